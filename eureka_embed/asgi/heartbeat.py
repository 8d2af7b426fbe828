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

import time
from collections.abc import MutableMapping, Sequence
from typing import Any, Final

import falcon

from eureka_embed.asgi.framing import ResponseFraming, Send
from eureka_embed.asgi.scope_request import scope_request
from eureka_embed.blocking import WouldBlock, call_non_blocking
from eureka_embed.http.endpoints import Route
from eureka_embed.http.messages import EndpointRequest, Handler
from eureka_embed.http.metrics import RequestStats
from eureka_embed.http.offload import EventLoopAnswers
from eureka_embed.http.responses import error_response

__all__ = ["HEARTBEAT_TEMPLATE", "Heartbeat", "HeartbeatFastPath"]

#: The heartbeat's route template below a base path
#: (:func:`~eureka_embed.http.endpoints.eureka_routes`).
HEARTBEAT_TEMPLATE: Final = "apps/{app}/{instance_id}"
_SUFFIX: Final = "/" + HEARTBEAT_TEMPLATE
_FIELDS: Final = "{app}/{instance_id}"


#: A recognised heartbeat: the request for the endpoint, its route template and handler. A plain
#: tuple: a named one's constructor is a Python call, on a path of a few microseconds.
Heartbeat = tuple[EndpointRequest, str, Handler]


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
        self._framing = ResponseFraming()

    def match(self, scope: MutableMapping[str, Any], path: str) -> Heartbeat | None:
        """The heartbeat ``scope`` (a PUT to ``path``) carries, or None when Falcon should
        route it."""
        for prefix, template, handler in self._routes:
            if path.startswith(prefix):
                app, _, instance_id = path[len(prefix) :].partition("/")
                if not app or not instance_id or "/" in instance_id:
                    continue
                request = scope_request(
                    scope, "PUT", path, {"app": app, "instance_id": instance_id}, self._options
                )
                if request is None:
                    return None
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
        await self._framing.send(send, answer)
