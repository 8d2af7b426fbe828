"""The endpoints of :mod:`eureka_embed.http.endpoints` as Falcon ASGI resources.

As :mod:`eureka_embed.wsgi.resources`, with the steps that differ under ASGI: the body is
awaited; a watching read (``?index=``) is held by awaiting
:meth:`~eureka_embed.http.watches.Watches.wait_async`, which costs a future and a timer and no
thread, so watchers are bounded only by connections; and the handler runs through
:class:`~eureka_embed.http.offload.EventLoopAnswers`, on the loop or in its thread pool (see
there for which and why). The request is built and the answer written by the WSGI adapter's
functions: Falcon's ASGI request and response subclass the WSGI ones for everything they read
and set.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import falcon.asgi

from eureka_embed.http.body import check_declared_length, require_declared_length, too_large
from eureka_embed.http.endpoints import Route
from eureka_embed.http.messages import Handler
from eureka_embed.http.offload import EventLoopAnswers
from eureka_embed.http.responses import error_response
from eureka_embed.http.watches import Watches
from eureka_embed.wsgi.request_input import endpoint_request
from eureka_embed.wsgi.resources import write_response

__all__ = ["AsgiResource", "read_body"]

Responder = Callable[..., Awaitable[None]]


class AsgiResource:
    """One :class:`~eureka_embed.http.endpoints.Route` as a Falcon ASGI resource."""

    def __init__(
        self, route: Route, max_body_bytes: int, answers: EventLoopAnswers, watches: Watches
    ) -> None:
        #: The route served (the watch fast path finds it through the app's router).
        self.route = route
        for method, handler in route.handlers.items():
            inline = method in route.inline_methods
            if route.view_of is not None and method == "GET":
                responder = _watching_responder(route, handler, answers, watches, inline=inline)
            else:
                responder = _responder(
                    handler,
                    answers,
                    reads_body=route.reads_body(method),
                    inline=inline,
                    limit=max_body_bytes,
                )
            setattr(self, f"on_{method.lower()}", responder)


def _responder(
    handler: Handler, answers: EventLoopAnswers, *, reads_body: bool, inline: bool, limit: int
) -> Responder:
    async def respond(req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: Any) -> None:
        body = await read_body(req, limit) if reads_body else b""
        request = endpoint_request(req, params, body)
        write_response(resp, await answers.answer(handler, request, inline=inline))

    return respond


def _watching_responder(
    route: Route, handler: Handler, answers: EventLoopAnswers, watches: Watches, *, inline: bool
) -> Responder:
    async def respond(req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: Any) -> None:
        request = endpoint_request(req, params)
        try:
            watch = await answers.call(functools.partial(route.watch_for, "GET"), request)
        except Exception as exc:
            write_response(resp, error_response(request, exc))
            return
        if watch is not None:
            await watches.wait_async(watch)
        write_response(resp, await answers.answer(handler, request, inline=inline))

    return respond


async def read_body(req: falcon.asgi.Request, limit: int) -> bytes:
    """The request body as sent, refusing anything above ``limit`` bytes with a 413.

    A declared Content-Length is checked before a byte is read. Without one (chunked), ASGI
    servers always de-chunk, so the body is read to at most ``limit + 1`` bytes: an endless
    body costs no more than the limit. Content-Encoding is undone by the endpoint.
    """
    length = req.content_length
    check_declared_length(length, limit)
    if length is not None:
        return require_declared_length(await req.bounded_stream.read(length), length)
    body = await req.stream.read(limit + 1)
    if len(body) > limit:
        raise too_large(limit)
    return body
