"""The endpoints of :mod:`eureka_embed.http.endpoints` as Falcon WSGI resources.

The whole adapter: a route's handlers become ``on_<method>`` responders that read the body when
the route asks for one, build the neutral request, hold it while it watches an unchanged view
(``?index=``, :mod:`eureka_embed.http.watches`), and write the neutral answer back. Nothing
about Eureka is decided here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon

from eureka_embed.http.endpoints import Route, Services, answer
from eureka_embed.http.messages import EndpointResponse, Handler
from eureka_embed.http.responses import error_response
from eureka_embed.http.watches import Watches
from eureka_embed.wsgi.request_input import endpoint_request, read_body

__all__ = ["FalconResource", "Services", "write_response"]

Responder = Callable[..., None]


class FalconResource:
    """One :class:`~eureka_embed.http.endpoints.Route` as a Falcon resource."""

    def __init__(self, route: Route, max_body_bytes: int, watches: Watches) -> None:
        for method, handler in route.handlers.items():
            if route.view_of is not None and method == "GET":
                responder = _watching_responder(route, handler, watches)
            else:
                responder = _responder(handler, route.reads_body(method), max_body_bytes)
            setattr(self, f"on_{method.lower()}", responder)


def _responder(handler: Handler, reads_body: bool, limit: int) -> Responder:
    def respond(req: falcon.Request, resp: falcon.Response, **params: Any) -> None:
        body = read_body(req, limit) if reads_body else b""
        write_response(resp, answer(handler, endpoint_request(req, params, body)))

    return respond


def _watching_responder(route: Route, handler: Handler, watches: Watches) -> Responder:
    def respond(req: falcon.Request, resp: falcon.Response, **params: Any) -> None:
        request = endpoint_request(req, params)
        try:
            watch = route.watch_for("GET", request)
        except Exception as exc:
            write_response(resp, error_response(request, exc))
            return
        if watch is not None:
            # Holds this worker thread; Watches answers at once past its cap of them.
            watches.wait(watch)
        write_response(resp, answer(handler, request))

    return respond


def write_response(resp: falcon.Response, answer: EndpointResponse) -> None:
    """Put ``answer`` on ``resp`` exactly as it is (a Content-Type on a 204 included)."""
    resp.status = answer.status
    if answer.content_type is not None:
        resp.content_type = answer.content_type
    for name, value in answer.headers:
        resp.set_header(name, value)
    resp.data = answer.body
