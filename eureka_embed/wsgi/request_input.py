"""What the WSGI adapter reads from a Falcon request: its headers, query and body.

Only the body needs the framework's calling style (a WSGI stream here, ``await`` under ASGI);
:func:`endpoint_request` reads nothing else that Falcon's ASGI request lacks.
"""

from __future__ import annotations

from collections.abc import Mapping

import falcon

from eureka_embed.http.body import check_declared_length, require_declared_length, too_large
from eureka_embed.http.messages import EndpointRequest

# Kept importable from here, where it has always been.
from eureka_embed.http.params import REPLICATION_HEADER

__all__ = ["REPLICATION_HEADER", "endpoint_request", "read_body"]


def endpoint_request(
    req: falcon.Request, params: Mapping[str, str], body: bytes = b""
) -> EndpointRequest:
    """The neutral description of ``req``, with its path fields and the body read for it."""
    return EndpointRequest(
        method=req.method,
        path=req.path,
        header=req.get_header,
        query=req.params,
        params=params,
        body=body,
        client=req.remote_addr,
    )


def read_body(req: falcon.Request, limit: int) -> bytes:
    """The request body as sent, refusing anything above ``limit`` bytes with a 413.

    A declared Content-Length is checked before a byte is read. A body without one (chunked)
    is read only when the server marks the stream as terminated (PEP 3333's
    ``wsgi.input_terminated``, set by servers that de-chunk); it is read to at most
    ``limit + 1`` bytes, so an endless body costs no more than the limit. Content-Encoding is
    undone by the endpoint, within the same limit.
    """
    length = req.content_length
    check_declared_length(length, limit)
    if length is not None:
        return require_declared_length(req.bounded_stream.read(length), length)
    if not req.env.get("wsgi.input_terminated"):
        # Reading an unterminated stream without a length could block forever.
        return b""
    body: bytes = req.stream.read(limit + 1)
    if len(body) > limit:
        raise too_large(limit)
    return body
