"""``create_app``: the Falcon ASGI app serving a :class:`~eureka_embed.registry.Registry`.

Routes, options and answers are :func:`eureka_embed.wsgi.create_app`'s, built by the same
:class:`~eureka_embed.http.api.EurekaApi`; this module mounts them on ``falcon.asgi`` and
registers Falcon's hooks in the coroutine form ASGI requires, around the WSGI adapter's code.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, Final, cast

import falcon
import falcon.asgi
from falcon.routing import CompiledRouter

from eureka_embed.asgi.framing import ResponseFraming
from eureka_embed.asgi.heartbeat import HeartbeatFastPath
from eureka_embed.asgi.resources import AsgiResource
from eureka_embed.asgi.watch_fast_path import WatchFastPath
from eureka_embed.auth.guard import AuthOption
from eureka_embed.http.api import DEFAULT_BASE_PATHS, EurekaApi
from eureka_embed.http.fetch_limit import FetchRateLimit
from eureka_embed.http.messages import EndpointResponse
from eureka_embed.http.offload import DEFAULT_BLOCKING_THREADS, EventLoopAnswers
from eureka_embed.http.openapi import openapi_routes
from eureka_embed.http.probes import Readiness
from eureka_embed.http.responses import TEXT_PLAIN, error_response
from eureka_embed.http.server_status import PeersStatus
from eureka_embed.registry import Registry
from eureka_embed.wsgi.errors import serialize_http_error
from eureka_embed.wsgi.metrics import RequestMetrics
from eureka_embed.wsgi.request_input import endpoint_request
from eureka_embed.wsgi.resources import write_response

if TYPE_CHECKING:
    from eureka_embed.remote_regions import RemoteRegions

__all__ = ["EurekaAsgiApp", "create_app", "falcon_asgi_app"]


class EurekaAsgiApp(falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response]):
    """A Falcon ASGI app that routes below the prefix it is mounted at.

    ASGI says a mounted app receives the whole ``path`` with its mount point in ``root_path``
    (Starlette's and FastAPI's ``mount`` do so); Falcon routes on ``path`` as given, so the
    mount point is taken off first. Served alone, ``root_path`` is empty and nothing changes.

    Heartbeats are answered by :attr:`heartbeats` (:mod:`eureka_embed.asgi.heartbeat`) without
    Falcon's request and response objects, when it is set; everything else goes through Falcon.
    """

    #: The heartbeat fast path; None sends heartbeats through Falcon like every other request.
    heartbeats: HeartbeatFastPath | None = None
    #: The fast path of watching reads; None sends them through Falcon.
    watching_reads: WatchFastPath | None = None

    async def __call__(  # type: ignore[override]  # ASGI's types, wider than Falcon's
        self, scope: MutableMapping[str, Any], receive: Any, send: Any
    ) -> None:
        started = time.perf_counter()
        path: str = scope.get("path", "")
        root = scope.get("root_path")
        if root and (path == root or path.startswith(root + "/")):
            path = path[len(root) :] or "/"
            scope = {**scope, "path": path}
        if scope["type"] == "http":
            if not _is_utf8(scope.get("query_string", b"")):
                await _FRAMING.send(send, _QUERY_NOT_UTF8)
                return
            method = scope.get("method")
            heartbeats = self.heartbeats
            if heartbeats is not None and method == "PUT":
                heartbeat = heartbeats.match(scope, path)
                if heartbeat is not None:
                    await heartbeats.respond(heartbeat, send, started)
                    return
            watching = self.watching_reads
            if watching is not None and method == "GET":
                read = watching.match(scope, path)
                if read is not None:
                    await watching.respond(read, send, started)
                    return
        await super().__call__(cast("dict[str, Any]", scope), receive, send)


#: Falcon decodes the query as UTF-8 when it builds its request, before any handler of ours
#: runs, and its UnicodeDecodeError ends the request as a 500. uvicorn's httptools refuses such
#: a request itself; servers that hand the raw bytes on (hypercorn, daphne, test clients) get
#: this answer instead.
_QUERY_NOT_UTF8: Final = EndpointResponse(
    400, TEXT_PLAIN, b"the query string is not UTF-8 (percent-encode its bytes)\n"
)
_FRAMING: Final = ResponseFraming()


def _is_utf8(raw: bytes) -> bool:
    if raw.isascii():  # nearly every query: no decoding at all
        return True
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


class _AsyncRequestMetrics(RequestMetrics):
    """The WSGI middleware's timing, under the ``*_async`` names falcon.asgi calls."""

    async def process_request_async(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response
    ) -> None:
        self.process_request(req, resp)

    async def process_response_async(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        resource: object,
        req_succeeded: bool,
    ) -> None:
        self.process_response(req, resp, resource, req_succeeded)


async def _any_error(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, ex: Exception, params: Any
) -> None:
    write_response(resp, error_response(endpoint_request(req, params or {}), ex))


def create_app(
    registry: Registry,
    *,
    max_body_bytes: int = 1 << 20,
    peers_status: PeersStatus | None = None,
    base_paths: Sequence[str] = DEFAULT_BASE_PATHS,
    dashboard: bool = True,
    metrics: bool = True,
    title: str = "eureka_embed",
    cache_max_entries: int = 1024,
    auth: AuthOption | None = None,
    fetch_limit: FetchRateLimit | None = None,
    readiness: Readiness | None = None,
    server_kind: str = "embedded ASGI",
    remote_regions: RemoteRegions | None = None,
    threads: int = DEFAULT_BLOCKING_THREADS,
) -> EurekaAsgiApp:
    """An ASGI app serving ``registry`` over Eureka's REST API.

    The options are :func:`eureka_embed.wsgi.create_app`'s, but for ``max_watchers``: a watch
    held here costs no thread, so watchers are bounded only by the server's connections. And:

    :param threads: the threads that run what may block the event loop: writes (through to
        SQL), cache misses, the status page and metrics. Heartbeats and cached reads are
        answered on the loop (see :mod:`eureka_embed.http.offload`).
    """
    api = EurekaApi(
        registry,
        max_body_bytes=max_body_bytes,
        peers_status=peers_status,
        base_paths=base_paths,
        dashboard=dashboard,
        metrics=metrics,
        title=title,
        cache_max_entries=cache_max_entries,
        auth=auth,
        fetch_limit=fetch_limit,
        readiness=readiness,
        server_kind=server_kind,
        remote_regions=remote_regions,
    )
    return falcon_asgi_app(api, threads=threads)


def falcon_asgi_app(
    api: EurekaApi,
    *,
    threads: int = DEFAULT_BLOCKING_THREADS,
    heartbeat_fast_path: bool = True,
    watch_fast_path: bool = True,
) -> EurekaAsgiApp:
    """The Falcon ASGI app serving ``api``'s routes (for a caller that keeps ``api``, to end its
    watches when stopping, as :func:`eureka_embed.wsgi.app.falcon_app` is for WSGI).

    :param heartbeat_fast_path: answer heartbeats from the ASGI scope
        (:mod:`eureka_embed.asgi.heartbeat`); off, Falcon routes them (the tests compare both).
    :param watch_fast_path: hold and answer watching reads from the ASGI scope
        (:mod:`eureka_embed.asgi.watch_fast_path`); off, through Falcon.
    """
    # Not closed on ASGI's lifespan shutdown: falcon.testing (and some hosts) send one per
    # request. Idle threads cost nothing, and end when the app is dropped or the process exits.
    answers = EventLoopAnswers(threads)
    middleware: list[Any] = []
    if api.request_stats is not None:
        middleware.append(_AsyncRequestMetrics(api.request_stats))

    # Our own router, given to Falcon: the watch fast path finds routes with it as Falcon does.
    router = CompiledRouter()
    app = EurekaAsgiApp(middleware=middleware, router=router)
    app.req_options.strip_url_path_trailing_slash = True
    app.set_error_serializer(serialize_http_error)
    app.add_error_handler(Exception, _any_error)
    for route in (*api.routes, *openapi_routes(api)):
        resource = AsgiResource(route, api.max_body_bytes, answers, api.watches)
        app.add_route(route.template, resource)
    if heartbeat_fast_path:
        app.heartbeats = HeartbeatFastPath(api.routes, answers, api.request_stats, app.req_options)
    if watch_fast_path:
        app.watching_reads = WatchFastPath(
            router,
            answers,
            api.watches,
            api.request_stats,
            app.req_options,
            # Credentials and the fetch limit are per request: such answers are never shared.
            share_answers=api.guard is None and api.fetch_limiter is None,
        )
    return app
