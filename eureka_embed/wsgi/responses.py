"""Writing answers: payload headers (type, encoding, Vary, ETag), 304s and empty successes."""

from __future__ import annotations

import falcon

from eureka_embed.codec import WireFormat
from eureka_embed.wsgi.negotiation import VARY, Variant, gzip_bytes
from eureka_embed.wsgi.payloads import Payload

__all__ = ["send_bytes", "send_cached", "send_empty"]


def _payload_headers(resp: falcon.Response, variant: Variant) -> None:
    resp.content_type = variant.fmt.content_type
    resp.set_header("Vary", VARY)
    if variant.gzip:
        resp.set_header("Content-Encoding", "gzip")


def send_cached(
    req: falcon.Request, resp: falcon.Response, payload: Payload, variant: Variant
) -> None:
    """A cached payload with its ETag; 304 without a body when the client already has it."""
    resp.etag = payload.etag
    inm = req.if_none_match
    if inm is not None and any(tag in ("*", payload.etag) for tag in inm):
        # If-None-Match compares weakly (RFC 9110 13.1.2): a W/ tag with our value matches.
        resp.status = falcon.HTTP_304
        resp.set_header("Vary", VARY)
        return
    _payload_headers(resp, variant)
    resp.data = payload.body


def send_bytes(resp: falcon.Response, body: bytes, variant: Variant, status: int = 200) -> None:
    """An uncached payload (a single instance), gzipped here when the client asked."""
    resp.status = status
    _payload_headers(resp, variant)
    resp.data = gzip_bytes(body) if variant.gzip else body


def send_empty(resp: falcon.Response, fmt: WireFormat) -> None:
    """200 with no body, but a Content-Type: strict clients refuse a typeless answer."""
    resp.status = falcon.HTTP_200
    resp.content_type = fmt.content_type
    resp.data = b""
