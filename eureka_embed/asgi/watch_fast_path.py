"""Watching reads answered from the ASGI scope, without Falcon's request and response.

One change wakes every watcher of its view at once: 5,000 watchers mean 5,000 answers right
after the change, and issue 11 asks for the last of them within 100 ms. Through Falcon each
woken watcher builds a request and a response object, runs the middleware and serialises its
headers, about as much again as the answer itself costs. :class:`WatchFastPath` takes the
``GET`` requests that carry ``index`` on a watchable route (found by the app's own router, so
it routes exactly as Falcon does), holds them with
:meth:`~eureka_embed.http.watches.Watches.wait_async`, runs the same handler the same way
(:class:`~eureka_embed.http.offload.EventLoopAnswers`), records the same request metrics and
sends the answer framed as Falcon frames it (:mod:`eureka_embed.asgi.framing`). The woken
watchers of one view share one cached payload: each answer costs its headers and a write.

Reads without ``index`` (plain Eureka clients), other methods and anything its router does not
find go to Falcon unchanged. ``tests/asgi/test_watch_fast_path.py`` compares both, byte for
byte.
"""

from __future__ import annotations

import functools
import time
from collections.abc import MutableMapping
from typing import Any

import falcon
from falcon.routing import CompiledRouter

from eureka_embed.asgi.framing import ResponseFraming, Send
from eureka_embed.asgi.scope_request import scope_request
from eureka_embed.http.endpoints import Route
from eureka_embed.http.messages import EndpointRequest
from eureka_embed.http.metrics import RequestStats
from eureka_embed.http.offload import EventLoopAnswers
from eureka_embed.http.responses import error_response
from eureka_embed.http.watches import Watches

__all__ = ["WatchFastPath", "WatchingRead"]

#: A recognised watching read: the request for the endpoint, its route and route template.
WatchingRead = tuple[EndpointRequest, Route, str]


class WatchFastPath:
    """Holds and answers the watching reads ``router`` routes to a watchable route."""

    def __init__(
        self,
        router: CompiledRouter,
        answers: EventLoopAnswers,
        watches: Watches,
        stats: RequestStats | None,
        options: falcon.RequestOptions,
    ) -> None:
        self._router = router
        self._answers = answers
        self._watches = watches
        self._stats = stats
        self._options = options
        self._framing = ResponseFraming()

    def match(self, scope: MutableMapping[str, Any], path: str) -> WatchingRead | None:
        """The watching read ``scope`` (a GET of ``path``) carries, or None when Falcon should
        answer it."""
        if b"index" not in scope.get("query_string", b""):
            return None  # a plain read: Falcon's, as cheap there as here
        if self._options.strip_url_path_trailing_slash and len(path) > 1 and path.endswith("/"):
            path = path[:-1]  # as Falcon routes it
        found = self._router.find(path or "/")
        if found is None:
            return None
        resource, _, params, template = found
        route: Route | None = getattr(resource, "route", None)
        if (
            template is None
            or route is None
            or route.view_of is None
            or "GET" not in route.handlers
        ):
            return None
        request = scope_request(scope, "GET", path, params, self._options)
        if request is None or request.query_value("index") is None:
            return None
        return request, route, template

    async def respond(self, read: WatchingRead, send: Send, started: float) -> None:
        """Hold ``read`` (from :meth:`match`) while its view stands still, then answer it and
        record it as the middleware would."""
        request, route, template = read
        try:
            watch = await self._answers.call(functools.partial(route.watch_for, "GET"), request)
        except Exception as exc:
            answer = error_response(request, exc)
        else:
            if watch is not None:
                await self._watches.wait_async(watch)
            answer = await self._answers.answer(
                route.handlers["GET"], request, inline="GET" in route.inline_methods
            )
        if self._stats is not None:
            self._stats.observe("GET", template, answer.status, time.perf_counter() - started)
        await self._framing.send(send, answer)
