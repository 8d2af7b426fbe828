"""Reading what a request carries: its body (within a size limit) and Eureka's query parameters.

Bad values raise :class:`~eureka_embed.errors.InvalidInput`, which the error handlers turn into
a 400 with the reason; Eureka itself answers 500 to most of these (SPEC section 1, *ours*).
"""

from __future__ import annotations

import falcon

from eureka_embed.errors import InvalidInput
from eureka_embed.model import InstanceStatus

__all__ = [
    "REPLICATION_HEADER",
    "is_replication",
    "read_body",
    "status_param",
    "timestamp_param",
]

REPLICATION_HEADER = "x-netflix-discovery-replication"

_MAX_TIMESTAMP = 2**63 - 1


def is_replication(req: falcon.Request) -> bool:
    """True for a write a peer forwarded: applied, never replicated again."""
    value = req.get_header(REPLICATION_HEADER)
    return value is not None and value.strip().lower() == "true"


def read_body(req: falcon.Request, limit: int) -> bytes:
    """The request body, refusing anything above ``limit`` bytes with a 413.

    A declared Content-Length is checked before a byte is read. A body without one (chunked)
    is read only when the server marks the stream as terminated (PEP 3333's
    ``wsgi.input_terminated``, set by servers that de-chunk); it is read to at most
    ``limit + 1`` bytes, so an endless body costs no more than the limit.
    """
    length = req.content_length
    if length is not None:
        if length > limit:
            raise _too_large(limit)
        return req.bounded_stream.read(length)
    if not req.env.get("wsgi.input_terminated"):
        # Reading an unterminated stream without a length could block forever.
        return b""
    body: bytes = req.stream.read(limit + 1)
    if len(body) > limit:
        raise _too_large(limit)
    return body


def _too_large(limit: int) -> falcon.HTTPContentTooLarge:
    return falcon.HTTPContentTooLarge(
        description=f"request body is larger than the limit of {limit} bytes"
    )


def timestamp_param(req: falcon.Request, name: str) -> int | None:
    """An epoch-milliseconds query parameter; None when absent or blank."""
    raw = req.get_param(name)
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise InvalidInput(f"query parameter {name} must be epoch milliseconds, got {raw[:40]!r}")
    value = int(text)
    if value > _MAX_TIMESTAMP:
        raise InvalidInput(f"query parameter {name} is out of range: {text}")
    return value


def status_param(req: falcon.Request, name: str, *, required: bool) -> InstanceStatus | None:
    """An instance status query parameter (any case); None when absent and not required."""
    raw = req.get_param(name)
    if raw is None or not raw.strip():
        if required:
            raise InvalidInput(f"query parameter {name} is required (an instance status)")
        return None
    try:
        return InstanceStatus.parse(raw)
    except ValueError:
        allowed = ", ".join(s.value for s in InstanceStatus)
        raise InvalidInput(
            f"query parameter {name} must be one of {allowed}, got {raw[:40]!r}"
        ) from None
