"""The neutral request and response every endpoint takes and gives, whatever the web framework.

A framework adapter (Falcon WSGI today, ASGI next) builds an :class:`EndpointRequest` from what
it received, calls the endpoint, and writes the :class:`EndpointResponse` back. Nothing here
knows how bytes arrive or leave: reading the body and writing the answer are the adapter's part.

Both are named tuples: immutable, and built per request at the cost of a tuple (a heartbeat
builds one of each, so a frozen dataclass's per-field ``object.__setattr__`` would show).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Final, NamedTuple

__all__ = [
    "EMPTY_MAPPING",
    "EndpointRequest",
    "EndpointResponse",
    "Handler",
    "HeaderLookup",
    "QueryValue",
    "no_headers",
]

QueryValue = str | Sequence[str]
"""A query parameter's value, or its values in order when the name was repeated."""

HeaderLookup = Callable[[str], str | None]
"""A request header's value by its lower-case name, None when absent.

An adapter passes its framework's own lookup (Falcon: ``req.get_header``), so no header is
copied; a test passes ``{"accept": "application/json"}.get``.
"""

EMPTY_MAPPING: Final[Mapping[str, str]] = MappingProxyType({})


def no_headers(name: str) -> str | None:
    """The header lookup of a request without headers."""
    return None


class EndpointRequest(NamedTuple):
    """What an endpoint reads from a request.

    :ivar method: upper-case method token (``GET``, ``PUT``, ...).
    :ivar path: the path as routed (for reasons and logs).
    :ivar header: looks a header up by lower-case name (:data:`HeaderLookup`).
    :ivar query: query parameters, percent-decoded.
    :ivar params: the path fields of the route template (``app``, ``instance_id``, ``vip``),
        percent-decoded.
    :ivar body: the body as received, Content-Encoding not yet undone (the endpoints decode it
        within their limit); empty for endpoints that read no body
        (:meth:`~eureka_embed.http.endpoints.Route.reads_body`).
    :ivar client: the client's address as the server saw it (the brute-force window counts
        failed logins by it); None when unknown.
    """

    method: str
    path: str
    header: HeaderLookup = no_headers
    query: Mapping[str, QueryValue] = EMPTY_MAPPING
    params: Mapping[str, str] = EMPTY_MAPPING
    body: bytes = b""
    client: str | None = None

    def query_value(self, name: str) -> str | None:
        """One value of the query parameter; the last when repeated (as Falcon picks)."""
        raw = self.query.get(name)
        if raw is None or isinstance(raw, str):
            return raw
        return raw[-1] if raw else None


class EndpointResponse(NamedTuple):
    """What an endpoint answers: an adapter writes exactly this, adding nothing but framing.

    ``content_type`` is sent on bodiless answers too (204 and empty 200s): Eureka servers do,
    and strict clients refuse a typeless answer. ``headers`` are (name, value) pairs.
    """

    status: int
    content_type: str | None = None
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


Handler = Callable[[EndpointRequest], EndpointResponse]
"""One endpoint for one method: the whole of what it does, between request and response."""
