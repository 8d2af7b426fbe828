"""Request bodies: the size limit, and undoing ``Content-Encoding`` within it.

Java peers and clients may gzip what they post (replication batches, registrations). gzip and
its old alias x-gzip are decoded, ``identity`` is the body as sent, and any other coding is a
415 (nothing here could read it). The limit bounds the **decoded** body: decoding runs
incrementally and stops one byte past the limit, so a gzip bomb costs at most the limit in
memory and is a 413, never an exhausted server.
"""

from __future__ import annotations

import zlib
from typing import Final

from eureka_embed.http.outcomes import HttpRefusal, Outcome

__all__ = ["check_declared_length", "decode_body", "require_declared_length", "too_large"]

_GZIP: Final = frozenset({"gzip", "x-gzip"})
_IDENTITY: Final = "identity"
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS  # a gzip header and trailer around deflate data


def too_large(limit: int) -> HttpRefusal:
    return HttpRefusal(Outcome(413, f"request body is larger than the limit of {limit} bytes"))


def check_declared_length(length: int | None, limit: int) -> None:
    """Refuse a declared Content-Length above ``limit`` before a byte is read.

    An adapter reads at most ``limit + 1`` bytes of a body without one; the limit applies to
    the body as sent as well as to the decoded body (gzip only ever grows what it cannot
    compress by a few bytes).
    """
    if length is not None and length > limit:
        raise too_large(limit)


def require_declared_length(body: bytes, length: int) -> bytes:
    """``body``, if it is all of the ``length`` bytes its Content-Length declared.

    A server hands on a shorter body when the client went away mid-body (uvicorn does, as the
    ASGI disconnect ends the stream); what arrived may still parse, but the client never
    finished the request, so it must not be applied.

    :raises HttpRefusal: 400 for a body cut short.
    """
    if len(body) < length:
        raise HttpRefusal(
            Outcome(
                400,
                f"request body ended after {len(body)} of the {length} bytes its "
                "Content-Length declared",
            )
        )
    return body


def decode_body(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """``body`` with its Content-Encoding undone, at most ``limit`` bytes once decoded.

    :raises HttpRefusal: 413 above the limit, 415 for a coding other than gzip or identity,
        400 for gzip data that is corrupt or cut short.
    """
    if not content_encoding:
        return _within(body, limit)
    # Codings are listed in the order they were applied: undo them from the last, once every
    # one of them is known to be readable.
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    for coding in codings:
        if coding not in _GZIP and coding not in (_IDENTITY, ""):
            raise HttpRefusal(
                Outcome(
                    415,
                    f"request body is encoded as {coding!r}; this server reads gzip, "
                    "x-gzip or identity",
                )
            )
    for coding in reversed(codings):
        if coding in _GZIP:
            body = _gunzip(body, limit)
    return _within(body, limit)


def _within(body: bytes, limit: int) -> bytes:
    if len(body) > limit:
        raise too_large(limit)
    return body


def _gunzip(data: bytes, limit: int) -> bytes:
    """Inflate gzip ``data`` (one member or several in a row) to at most ``limit`` bytes."""
    out = bytearray()
    pending = data
    while True:
        inflater = zlib.decompressobj(_GZIP_WBITS)
        try:
            # max_length stops inflating one byte past the limit (never inflate, then check):
            # output stops short of it only once the member's input is used up.
            out += inflater.decompress(pending, limit + 1 - len(out))
        except zlib.error as exc:
            raise _corrupt(f"it is not valid gzip ({exc})") from None
        if len(out) > limit:
            raise too_large(limit)
        if not inflater.eof:
            raise _corrupt("the gzip data ends before its last block")
        pending = inflater.unused_data
        if not pending.strip(b"\0"):
            # Some writers pad after the last member; there is nothing more to read.
            return bytes(out)


def _corrupt(why: str) -> HttpRefusal:
    return HttpRefusal(Outcome(400, f"request body is sent as Content-Encoding gzip, but {why}"))
