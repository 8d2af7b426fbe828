"""``create_app``: the Falcon WSGI app serving a :class:`~eureka_embed.registry.Registry`.

Routes (SPEC section 1) are served under every base path, by default ``/eureka`` (as Spring
Cloud serves them) and ``/eureka/v2`` (as Netflix does); the dashboard is at ``/`` and
Prometheus metrics at ``/metrics``. The app owns no threads and no connections: mount it under a
prefix of any WSGI application (see ``examples/embed_in_wsgi_app.py``) or serve it alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import falcon
from prometheus_client import CollectorRegistry

from eureka_embed.http.endpoints import (
    Endpoints,
    Route,
    Services,
    dashboard_route,
    eureka_routes,
)
from eureka_embed.http.metrics import (
    MetricsEndpoint,
    RegistryCollector,
    ReplicationCollector,
    RequestStats,
)
from eureka_embed.http.payload_cache import PayloadCache
from eureka_embed.http.payloads import Payload, RegistryPayloads
from eureka_embed.http.server_status import PeersStatus
from eureka_embed.registry import Registry
from eureka_embed.replication.receiver import ReplicationReceiver
from eureka_embed.wsgi.errors import install_error_handlers
from eureka_embed.wsgi.metrics import RequestMetrics
from eureka_embed.wsgi.resources import FalconResource

__all__ = ["DEFAULT_BASE_PATHS", "EurekaApp", "create_app"]

DEFAULT_BASE_PATHS = ("/eureka", "/eureka/v2")

EurekaApp = falcon.App[falcon.Request, falcon.Response]


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
) -> EurekaApp:
    """A WSGI app serving ``registry`` over Eureka's REST API.

    :param max_body_bytes: request bodies above this are refused with 413.
    :param peers_status: reports the peer nodes for ``GET status`` and the dashboard; each
        mapping is shown as given (``url`` and ``status`` keys read best). ``/metrics`` turns
        the numbers of :meth:`~eureka_embed.replication.PeerReplicator.peers_status` into
        per-peer series; pass that method to serve a replicating node.
    :param base_paths: where the Eureka API is served; each must start with ``/``.
    :param dashboard: serve the HTML status page at ``/``.
    :param metrics: serve Prometheus metrics at ``/metrics`` and measure every request.
    :param title: the dashboard's heading.
    :param cache_max_entries: bound on cached payloads (one per kind, name and representation).
    """
    if max_body_bytes < 0:
        raise ValueError("max_body_bytes must not be negative")
    if not base_paths or any(not path.startswith("/") for path in base_paths):
        raise ValueError("base_paths must be absolute paths such as '/eureka'")
    paths = [path.rstrip("/") for path in base_paths]  # "/" serves the API at the root

    cache: PayloadCache[Payload | None] = PayloadCache(cache_max_entries)
    services = Services(
        registry=registry,
        payloads=RegistryPayloads(registry, cache),
        max_body_bytes=max_body_bytes,
        replication=ReplicationReceiver(registry),
        peers_status=peers_status,
        title=title,
    )

    middleware: list[Any] = []
    metrics_registry: CollectorRegistry | None = None
    if metrics:
        metrics_registry = CollectorRegistry()
        metrics_registry.register(RegistryCollector(registry, cache))
        metrics_registry.register(ReplicationCollector(services.replication, peers_status))
        middleware.append(RequestMetrics(RequestStats(metrics_registry)))

    app: EurekaApp = falcon.App(middleware=middleware)
    # Eureka clients ask for both ``apps`` and ``apps/``; peers post to ``peerreplication/batch/``.
    app.req_options.strip_url_path_trailing_slash = True
    install_error_handlers(app)

    endpoints = Endpoints(services)
    limit = services.max_body_bytes
    for route in eureka_routes(endpoints):
        resource = FalconResource(route, limit)  # one per route, shared by every base path
        for base in paths:
            app.add_route(f"{base}/{route.template}", resource)
    if dashboard:
        app.add_route("/", FalconResource(dashboard_route(endpoints), limit))
    if metrics_registry is not None:
        metrics_route = Route("/metrics", {"GET": MetricsEndpoint(metrics_registry)})
        app.add_route("/metrics", FalconResource(metrics_route, limit))
    return app
