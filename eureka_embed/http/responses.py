"""Building answers: payload headers (type, encoding, Vary, ETag), 304s, bodiless successes and
refusals as text.

Every error body is ``text/plain``: a reason a person can read in a client log, never a
traceback (that goes to the server log).
"""

from __future__ import annotations

import logging
from typing import Final

from eureka_embed.codec import WireFormat
from eureka_embed.errors import EurekaError
from eureka_embed.http.messages import EndpointRequest, EndpointResponse
from eureka_embed.http.negotiation import VARY, Variant, gzip_bytes
from eureka_embed.http.outcomes import Outcome, error_outcome
from eureka_embed.http.payloads import Payload

__all__ = [
    "TEXT_PLAIN",
    "bodiless",
    "cached_payload",
    "error_response",
    "if_none_match",
    "payload",
    "refusal",
]

log = logging.getLogger("eureka_embed.http")

TEXT_PLAIN: Final = "text/plain; charset=utf-8"

_VARY: Final = (("Vary", VARY),)
_VARY_GZIP: Final = (("Vary", VARY), ("Content-Encoding", "gzip"))


def if_none_match(header: str | None) -> list[str]:
    """The entity tags of an ``If-None-Match`` header, unquoted, weak or not (``*`` as is)."""
    if not header:
        return []
    tags = []
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith(("W/", "w/")):
            tag = tag[2:]
        tags.append(tag.strip('"'))
    return tags


def cached_payload(req: EndpointRequest, cached: Payload, variant: Variant) -> EndpointResponse:
    """A cached payload with its ETag; 304 without a body when the client already has it."""
    etag = ("ETag", f'"{cached.etag}"')
    tags = req.header("if-none-match")
    # If-None-Match compares weakly (RFC 9110 13.1.2): a W/ tag with our value matches.
    if tags is not None and any(tag in ("*", cached.etag) for tag in if_none_match(tags)):
        return EndpointResponse(304, headers=(etag, *_VARY))
    headers = _VARY_GZIP if variant.gzip else _VARY
    return EndpointResponse(200, variant.fmt.content_type, cached.body, (etag, *headers))


def payload(body: bytes, variant: Variant, status: int = 200) -> EndpointResponse:
    """An uncached payload (a single instance), gzipped here when the client asked."""
    if variant.gzip:
        return EndpointResponse(status, variant.fmt.content_type, gzip_bytes(body), _VARY_GZIP)
    return EndpointResponse(status, variant.fmt.content_type, body, _VARY)


_BODILESS: Final = {
    (status, fmt): EndpointResponse(status, fmt.content_type)
    for status in (200, 204)
    for fmt in WireFormat
}


def bodiless(status: int, fmt: WireFormat) -> EndpointResponse:
    """A success without a body that still names the negotiated Content-Type, as Jersey 1
    (Eureka's server) does: strict clients (aiohttp-based ones) refuse a typeless answer."""
    answer = _BODILESS.get((status, fmt))
    return answer if answer is not None else EndpointResponse(status, fmt.content_type)


def refusal(outcome: Outcome) -> EndpointResponse:
    """A refusal as text: the reason, and the headers that go with it (Retry-After, ...)."""
    return EndpointResponse(
        outcome.status, TEXT_PLAIN, (outcome.reason + "\n").encode(), outcome.headers
    )


def error_response(req: EndpointRequest, exc: BaseException) -> EndpointResponse:
    """The answer to an endpoint that raised ``exc``, logged as it deserves."""
    outcome = error_outcome(exc)
    if outcome.status == 503:
        # The store logs an outage once when it starts and once when it ends; a line per
        # refused request would bury those two under thousands.
        log.debug("%s %s: store unavailable: %s", req.method, req.path, outcome.reason)
    elif outcome.status >= 500:
        if isinstance(exc, EurekaError):  # raised on purpose: its reason is the story
            log.error("%s %s failed: %s", req.method, req.path, outcome.reason, exc_info=exc)
        else:
            log.error("%s %s failed with an unexpected error", req.method, req.path, exc_info=exc)
    return refusal(outcome)
