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

import asyncio
import functools
import time
from collections.abc import MutableMapping
from typing import Any

import falcon
from falcon.routing import CompiledRouter

from eureka_embed.asgi.framing import ResponseFraming, Send
from eureka_embed.asgi.scope_request import scope_request
from eureka_embed.http.endpoints import Route
from eureka_embed.http.messages import EndpointRequest, EndpointResponse
from eureka_embed.http.metrics import RequestStats
from eureka_embed.http.offload import EventLoopAnswers
from eureka_embed.http.responses import error_response
from eureka_embed.http.watches import Watches
from eureka_embed.storage.view_index import View

__all__ = ["WatchFastPath", "WatchingRead"]

#: A recognised watching read: the request for the endpoint, its route, route template, and
#: what the answer may depend on (path, query and headers as received).
WatchingRead = tuple[EndpointRequest, Route, str, tuple[object, ...]]


class WatchFastPath:
    """Holds and answers the watching reads ``router`` routes to a watchable route."""

    def __init__(
        self,
        router: CompiledRouter,
        answers: EventLoopAnswers,
        watches: Watches,
        stats: RequestStats | None,
        options: falcon.RequestOptions,
        *,
        share_answers: bool = True,
    ) -> None:
        self._router = router
        self._answers = answers
        self._watches = watches
        self._stats = stats
        self._options = options
        self._framing = ResponseFraming()
        self._share = share_answers
        # The last answer given after a wake, or being made: (request key, view index, answer;
        # None if its making failed).
        self._shared: (
            tuple[tuple[object, ...], int, asyncio.Future[EndpointResponse | None]] | None
        ) = None

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
        headers = scope.get("headers", ())
        if not isinstance(headers, list):  # an iterable may be read once only
            headers = [(name, value) for name, value in headers]
            scope = {**scope, "headers": headers}
        key = (template, path, scope.get("query_string"), tuple(headers))
        request = scope_request(scope, "GET", path, params, self._options)
        if request is None or request.query_value("index") is None:
            return None
        return request, route, template, key

    async def respond(self, read: WatchingRead, send: Send, started: float) -> None:
        """Hold ``read`` (from :meth:`match`) while its view stands still, then answer it and
        record it as the middleware would."""
        request, route, template, key = read
        try:
            watch = await self._answers.call(functools.partial(route.watch_for, "GET"), request)
        except Exception as exc:
            answer = error_response(request, exc)
        else:
            if watch is None:
                answer = await self._answer(request, route)
            else:
                await self._watches.wait_async(watch)
                answer = await self._shared_answer(request, route, key, watch.view)
        if self._stats is not None:
            self._stats.observe("GET", template, answer.status, time.perf_counter() - started)
        await self._framing.send(send, answer)

    async def _answer(self, request: EndpointRequest, route: Route) -> EndpointResponse:
        return await self._answers.answer(
            route.handlers["GET"], request, inline="GET" in route.inline_methods
        )

    async def _shared_answer(
        self, request: EndpointRequest, route: Route, key: tuple[object, ...], view: View
    ) -> EndpointResponse:
        """The answer of a woken watcher: the one just given to an identical request (same
        path, query and headers) while the view's index has not moved since, else the
        handler's. One change wakes thousands of watchers, mostly of one view, asking alike:
        the handler runs once for them, not once each.

        The index is read before the handler runs, as the handler reads it before its data: an
        equal index later means no change of the view was counted since, so the handler would
        answer the same. Off (``share_answers``) where the handler's answer depends on more
        than the request and the view: credentials checked, or fetches counted, per request.
        """
        if not self._share or self._watches.closed:
            return await self._answer(request, route)  # a stopping server answers 503
        index = self._watches.index(view)
        loop = asyncio.get_running_loop()
        shared = self._shared
        if (
            shared is not None
            and shared[1] == index
            and shared[0] == key
            and shared[2].get_loop() is loop  # an app may be served from several loops
        ):
            made = shared[2]
            # Shielded: this request's cancellation must not cancel the others' answer.
            answer = made.result() if made.done() else await asyncio.shield(made)
            if answer is not None:
                return answer
            return await self._answer(request, route)  # its making failed: our own
        pending: asyncio.Future[EndpointResponse | None] = loop.create_future()
        self._shared = (key, index, pending)
        try:
            answer = await self._answer(request, route)
        except BaseException:  # cancelled (the client left): the others answer themselves
            pending.set_result(None)
            if self._shared is not None and self._shared[2] is pending:
                self._shared = None
            raise
        pending.set_result(answer)
        return answer
