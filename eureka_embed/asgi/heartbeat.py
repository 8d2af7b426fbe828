"""Heartbeats answered straight from the ASGI scope, without Falcon's request and response.

A heartbeat (``PUT {base}/apps/{app}/{instance_id}``) is almost all of a registry's traffic:
every client sends one each 30 s. Through Falcon it costs about three times the endpoint's own
work (building the request and response objects, routing, middleware, serialising headers),
and issue 11 asks for 0.85 of a bare Falcon PUT. :class:`HeartbeatFastPath` recognises the
heartbeat's path in the scope, builds the same :class:`~eureka_embed.http.messages.EndpointRequest`
Falcon's adapter would (same path fields, the query parsed by Falcon's own parser with the app's
options, headers looked up as Falcon's ASGI request does), calls the same handler the same way
(:class:`~eureka_embed.http.offload.EventLoopAnswers`), records the same request metrics, and
sends the answer framed as Falcon frames it. Nothing about Eureka is decided here: statuses,
bodies, negotiation, 409 bodies and refusals come from the shared endpoint code.

Anything it does not recognise (another method or path, a trailing slash, an empty or encoded
``/`` segment, a query that is not UTF-8) goes to Falcon unchanged.
``tests/asgi/test_heartbeat_fast_path.py`` runs a table of heartbeats through both and compares
every byte sent.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, Final

import falcon
from falcon.constants import SINGLETON_HEADERS
from falcon.util.uri import parse_query_string

from eureka_embed.blocking import WouldBlock, call_non_blocking
from eureka_embed.http.endpoints import Route
from eureka_embed.http.messages import EMPTY_MAPPING, EndpointRequest, EndpointResponse, Handler
from eureka_embed.http.metrics import RequestStats
from eureka_embed.http.offload import EventLoopAnswers
from eureka_embed.http.responses import error_response

__all__ = ["HEARTBEAT_TEMPLATE", "Heartbeat", "HeartbeatFastPath"]

#: The heartbeat's route template below a base path
#: (:func:`~eureka_embed.http.endpoints.eureka_routes`).
HEARTBEAT_TEMPLATE: Final = "apps/{app}/{instance_id}"
_SUFFIX: Final = "/" + HEARTBEAT_TEMPLATE
_FIELDS: Final = "{app}/{instance_id}"

_SINGLETONS: Final = frozenset(name.encode() for name in SINGLETON_HEADERS)
_HEADER_NAMES: Final[dict[str, bytes]] = {}


#: A recognised heartbeat: the request for the endpoint, its route template and handler. A plain
#: tuple: a named one's constructor is a Python call, on a path of a few microseconds.
Heartbeat = tuple[EndpointRequest, str, Handler]

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def _header(headers: Sequence[tuple[bytes, bytes]], name: str) -> str | None:
    """A request header as ``falcon.asgi.Request.get_header`` gives it.

    Repeated headers are joined with ``,``, except the singletons, of which the last counts.
    A heartbeat looks up two or three headers among a handful, so a scan costs less than the
    dictionary Falcon builds of them all.
    """
    key = _HEADER_NAMES.get(name)
    if key is None:
        key = name.lower().encode("latin1")
        if len(_HEADER_NAMES) < 64:  # the endpoints ask for a handful of names
            _HEADER_NAMES[name] = key
    found: bytes | None = None
    for header_name, value in headers:
        if header_name == key:
            if found is None or key in _SINGLETONS:
                found = value
            else:
                found += b"," + value
    return None if found is None else found.decode("latin1")


class HeartbeatFastPath:
    """Answers the heartbeats of ``routes`` from the ASGI scope; see the module."""

    def __init__(
        self,
        routes: Sequence[Route],
        answers: EventLoopAnswers,
        stats: RequestStats | None,
        options: falcon.RequestOptions,
    ) -> None:
        #: (path prefix up to the app field, full template, handler), one per base path.
        self._routes = tuple(
            (route.template[: -len(_FIELDS)], route.template, route.handlers["PUT"])
            for route in routes
            if route.template.endswith(_SUFFIX) and "PUT" in route.handlers
        )
        self._answers = answers
        self._stats = stats
        self._options = options
        # Built once per answer seen (a handful: 200 JSON/XML, 404, ...), not per request.
        self._starts: dict[EndpointResponse, list[tuple[bytes, bytes]]] = {}

    def match(self, scope: MutableMapping[str, Any], path: str) -> Heartbeat | None:
        """The heartbeat ``scope`` (a PUT to ``path``) carries, or None when Falcon should
        route it."""
        for prefix, template, handler in self._routes:
            if path.startswith(prefix):
                app, _, instance_id = path[len(prefix) :].partition("/")
                if not app or not instance_id or "/" in instance_id:
                    continue
                raw_query: bytes = scope.get("query_string", b"")
                try:
                    query_string = raw_query.decode()
                except UnicodeDecodeError:
                    return None  # Falcon's own answer to that, whatever it is
                options = self._options
                query = (
                    parse_query_string(
                        query_string,
                        keep_blank=options.keep_blank_qs_values,
                        csv=options.auto_parse_qs_csv,
                    )
                    if query_string
                    else EMPTY_MAPPING
                )
                headers = scope.get("headers", ())
                if not isinstance(headers, list):
                    # ASGI allows iterables read once (falcon.testing sends iterators of
                    # iterators); a heartbeat looks headers up more than once.
                    headers = [(name, value) for name, value in headers]
                client = scope.get("client")
                if client is not None and not isinstance(client, (tuple, list)):
                    client = tuple(client)  # an iterable read once, as headers above
                request = EndpointRequest(
                    "PUT",
                    path,
                    functools.partial(_header, headers),
                    query,
                    {"app": app, "instance_id": instance_id},
                    b"",
                    client[0] if client else None,
                )
                return request, template, handler
        return None

    async def respond(self, heartbeat: Heartbeat, send: Send, started: float) -> None:
        """Answer ``heartbeat`` (from :meth:`match`) and record it as the middleware would."""
        request, template, handler = heartbeat
        try:
            # On the loop, as EventLoopAnswers.answer(inline=True) does, without awaiting a
            # coroutine of its own for the heartbeats that need nothing else.
            answer = call_non_blocking(handler, request)
        except WouldBlock:  # nothing was done: the pool runs it again where it may block
            answer = await self._answers.answer(handler, request, inline=False)
        except Exception as exc:
            answer = error_response(request, exc)
        if self._stats is not None:
            # Counted before the answer leaves, as Falcon's middleware does: a client that
            # reads /metrics after its heartbeat's answer finds it there.
            self._stats.observe("PUT", template, answer.status, time.perf_counter() - started)
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": self._start(answer)}
        )
        await send({"type": "http.response.body", "body": answer.body})

    def _start(self, answer: EndpointResponse) -> list[tuple[bytes, bytes]]:
        """The response headers in Falcon's order: Content-Type, the others, Content-Length."""
        cacheable = not answer.body
        if cacheable:
            cached = self._starts.get(answer)
            if cached is not None:
                # A copy: ASGI middleware around us (Starlette's) may add to the list it gets.
                return list(cached)
        headers = []
        if answer.content_type is not None:
            headers.append((b"content-type", answer.content_type.encode("latin1")))
        headers.extend(
            (name.lower().encode("latin1"), value.encode("latin1"))
            for name, value in answer.headers
        )
        headers.append((b"content-length", str(len(answer.body)).encode()))
        if cacheable and len(self._starts) < 64:
            self._starts[answer] = list(headers)
        return headers
