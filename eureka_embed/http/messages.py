"""The neutral request and response every endpoint takes and gives, whatever the web framework.

A framework adapter (Falcon WSGI today, ASGI next) builds an :class:`EndpointRequest` from what it
received, calls the endpoint, and writes the :class:`EndpointResponse` back. Nothing here knows
how bytes arrive or leave: reading the body and writing the answer are the adapter's part.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

__all__ = ["EMPTY_MAPPING", "EndpointRequest", "EndpointResponse", "Handler", "QueryValue"]

QueryValue = str | Sequence[str]
"""A query parameter's value, or its values in order when the name was repeated."""

EMPTY_MAPPING: Final[Mapping[str, str]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class EndpointRequest:
    """What an endpoint reads from a request.

    :ivar method: upper-case method token (``GET``, ``PUT``, ...).
    :ivar path: the path as routed (for reasons in error answers).
    :ivar headers: looked up by **lower-case** name; an adapter may pass a lazy view over its
        framework's request instead of copying every header.
    :ivar query: query parameters, percent-decoded.
    :ivar params: the path fields of the route template (``app``, ``instance_id``, ``vip``),
        percent-decoded.
    :ivar body: the body as received, Content-Encoding not yet undone (the endpoints decode it
        within their limit); empty for endpoints that read no body.
    """

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=lambda: EMPTY_MAPPING)
    query: Mapping[str, QueryValue] = field(default_factory=lambda: EMPTY_MAPPING)
    params: Mapping[str, str] = field(default_factory=lambda: EMPTY_MAPPING)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The header ``name`` (give it in lower case); None when absent."""
        return self.headers.get(name)

    def query_value(self, name: str) -> str | None:
        """One value of the query parameter; the last when repeated (as Falcon picks)."""
        raw = self.query.get(name)
        if raw is None or isinstance(raw, str):
            return raw
        return raw[-1] if raw else None


@dataclass(frozen=True, slots=True)
class EndpointResponse:
    """What an endpoint answers: an adapter writes exactly this, adding nothing but framing.

    ``content_type`` is sent on bodiless answers too (204 and empty 200s): Eureka servers do,
    and strict clients refuse a typeless answer.
    """

    status: int
    content_type: str | None = None
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = field(default=())


Handler = Callable[[EndpointRequest], EndpointResponse]
"""One endpoint for one method: the whole of what it does, between request and response."""
