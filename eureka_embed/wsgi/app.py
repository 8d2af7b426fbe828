"""``create_app``: the Falcon WSGI app serving a :class:`~eureka_embed.registry.Registry`.

Routes (SPEC section 1) are served under every base path, by default ``/eureka`` (as Spring
Cloud serves them) and ``/eureka/v2`` (as Netflix does); the dashboard is at ``/`` and
Prometheus metrics at ``/metrics``. The app owns no threads and no connections: mount it under a
prefix of any WSGI application (see ``examples/embed_in_wsgi_app.py``) or serve it alone.

What each route does is :mod:`eureka_embed.http`'s; this module only mounts it on Falcon.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import falcon

from eureka_embed.auth.guard import AuthOption
from eureka_embed.http.api import DEFAULT_BASE_PATHS, EurekaApi
from eureka_embed.http.fetch_limit import FetchRateLimit
from eureka_embed.http.openapi import openapi_routes
from eureka_embed.http.probes import Readiness
from eureka_embed.http.server_status import PeersStatus
from eureka_embed.registry import Registry
from eureka_embed.wsgi.errors import install_error_handlers
from eureka_embed.wsgi.metrics import RequestMetrics
from eureka_embed.wsgi.resources import FalconResource

if TYPE_CHECKING:
    from eureka_embed.remote_regions import RemoteRegions

__all__ = ["DEFAULT_BASE_PATHS", "DEFAULT_MAX_WATCHERS", "EurekaApp", "create_app", "falcon_app"]

EurekaApp = falcon.App[falcon.Request, falcon.Response]

#: Watching reads held at once by an app mounted in a WSGI server we do not know: a quarter of
#: waitress's default 4 threads. Each holds a worker thread for up to its wait; raise it with
#: the server's threads (``eureka-embed serve`` holds a quarter of its own).
DEFAULT_MAX_WATCHERS: Final = 1


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
    server_kind: str = "embedded WSGI",
    remote_regions: RemoteRegions | None = None,
    max_watchers: int = DEFAULT_MAX_WATCHERS,
) -> EurekaApp:
    """A WSGI app serving ``registry`` over Eureka's REST API.

    :param max_body_bytes: request bodies above this are refused with 413, before and after
        undoing a ``Content-Encoding`` (gzip).
    :param peers_status: reports the peer nodes for ``GET status`` and the dashboard; each
        mapping is shown as given (``url`` and ``status`` keys read best). ``/metrics`` turns
        the numbers of :meth:`~eureka_embed.replication.PeerReplicator.peers_status` into
        per-peer series; pass that method to serve a replicating node.
    :param base_paths: where the Eureka API is served; each must start with ``/``.
    :param dashboard: serve the HTML status page at ``/``.
    :param metrics: serve Prometheus metrics at ``/metrics`` and measure every request.
    :param title: the dashboard's heading.
    :param cache_max_entries: bound on cached payloads (one per kind, name and representation).
    :param max_watchers: watching reads (``?index=``) held at once, each holding a thread of
        the WSGI server until its view changes or its wait ends; one more is answered at once,
        so watchers never take every thread from heartbeats. 0 answers every watch at once.
    :param auth: who may do what (:mod:`eureka_embed.auth`): a
        :class:`~eureka_embed.auth.BasicAuth` (from a credentials file or built in code), or
        the host application's own check, a callable given the
        :class:`~eureka_embed.http.messages.EndpointRequest` that returns an
        :class:`~eureka_embed.auth.Identity` or None. None (the default): open, as Eureka is.
    :param fetch_limit: limit full and delta fetches, as Eureka's ``RateLimitingFilter``
        does (:mod:`eureka_embed.http.fetch_limit`); None (the default): no limit.
    :param readiness: what ``/readyz`` asks (by default whether the store answers); a server
        that copies from peers while it listens gives its own
        (:class:`~eureka_embed.http.probes.Readiness`).
    :param server_kind: what serves the app, shown on the dashboard.
    :param remote_regions: the remote regions' registries ``?regions=`` adds to reads of
        ``apps``, ``apps/delta``, ``vips`` and ``svips`` (:mod:`eureka_embed.remote_regions`);
        the caller starts and stops them. None (the default): ``regions`` is ignored.
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
        max_watchers=max_watchers,
        auth=auth,
        fetch_limit=fetch_limit,
        readiness=readiness,
        server_kind=server_kind,
        remote_regions=remote_regions,
    )
    return falcon_app(api)


def falcon_app(api: EurekaApi) -> EurekaApp:
    """The Falcon WSGI app serving ``api``'s routes (for a caller that keeps ``api``, as the
    standalone server does, to end its watches when stopping)."""
    middleware: list[Any] = []
    if api.request_stats is not None:
        middleware.append(RequestMetrics(api.request_stats))

    app: EurekaApp = falcon.App(middleware=middleware)
    # Eureka clients ask for both ``apps`` and ``apps/``; peers post to ``peerreplication/batch/``.
    app.req_options.strip_url_path_trailing_slash = True
    install_error_handlers(app)
    for route in (*api.routes, *openapi_routes(api)):
        app.add_route(route.template, FalconResource(route, api.max_body_bytes, api.watches))
    return app
