"""Endpoint answers sent as ASGI events, framed exactly as Falcon's ASGI app frames them.

The fast paths (:mod:`eureka_embed.asgi.heartbeat`, :mod:`eureka_embed.asgi.watch_fast_path`)
answer without Falcon's response object; a client must not be able to tell. Falcon keeps the
headers in a dict by lower-case name (a repeated name keeps its first place and its last
value), puts ``Content-Length`` after them unless the status has no body (204, 304), adds its
default media type where no type was set on a status that has one, and ends a bodiless answer
with a body event that carries no ``body``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from eureka_embed.http.messages import EndpointResponse

__all__ = ["ResponseFraming", "Send"]

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_BODILESS: Final = frozenset({100, 101, 204, 304})
_TYPELESS: Final = frozenset({204, 304})
# falcon.ResponseOptions' default_media_type, which the apps here leave as it is.
_DEFAULT_MEDIA_TYPE: Final = "application/json"
_END: Final = {"type": "http.response.body"}


class ResponseFraming:
    """Sends answers as Falcon would; remembers the headers of the few bodiless answers an
    app gives over and over (a heartbeat's 200, its 404), so they are not built per request,
    and those of the last answer with a body: the watchers one change wakes are answered one
    after the other with equal answers (one cached payload, one index), so all but the first
    reuse its headers. Only the last is kept: a body may be megabytes."""

    __slots__ = ("_last", "_starts")

    def __init__(self) -> None:
        self._starts: dict[EndpointResponse, list[tuple[bytes, bytes]]] = {}
        self._last: tuple[EndpointResponse, list[tuple[bytes, bytes]]] | None = None

    async def send(self, send: Send, answer: EndpointResponse) -> None:
        status = answer.status
        await send(
            {"type": "http.response.start", "status": status, "headers": self.headers(answer)}
        )
        if status in _BODILESS:
            await send(dict(_END))
        else:
            await send({"type": "http.response.body", "body": answer.body})

    def headers(self, answer: EndpointResponse) -> list[tuple[bytes, bytes]]:
        """The response headers in Falcon's order and spelling."""
        cacheable = not answer.body
        if cacheable:
            cached = self._starts.get(answer)
            if cached is not None:
                # A copy: ASGI middleware around us (Starlette's) may add to the list it gets.
                return list(cached)
        else:
            last = self._last
            # Equal answers of one wake share their body object: compared by identity first.
            if last is not None and last[0] == answer:
                return list(last[1])
        named: dict[str, str] = {}
        if answer.content_type is not None:
            named["content-type"] = answer.content_type
        for name, value in answer.headers:
            named[name.lower()] = value
        if answer.status not in _BODILESS:
            named["content-length"] = str(len(answer.body))
        if answer.status not in _TYPELESS and "content-type" not in named:
            named["content-type"] = _DEFAULT_MEDIA_TYPE
        headers = [(name.encode("latin1"), value.encode("latin1")) for name, value in named.items()]
        if not cacheable:
            self._last = (answer, list(headers))
        elif len(self._starts) < 64:
            self._starts[answer] = list(headers)
        return headers
