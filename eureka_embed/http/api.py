"""``EurekaApi``: every route a framework adapter serves, built once from a registry.

An adapter (``create_app`` for Falcon WSGI, the ASGI one next) builds an :class:`EurekaApi`
with the options it was given and mounts each of :attr:`EurekaApi.routes` at its path; it adds
only what its framework needs (reading the body, writing the answer, timing requests into
:attr:`EurekaApi.request_stats`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry

from eureka_embed.auth.guard import AccessGuard, AuthOption
from eureka_embed.auth.roles import Access
from eureka_embed.http.dashboard_data import DashboardData
from eureka_embed.http.dashboard_history import DashboardHistory
from eureka_embed.http.endpoints import (
    Endpoints,
    Route,
    Services,
    dashboard_route,
    eureka_routes,
)
from eureka_embed.http.fetch_limit import FetchLimiter, FetchRateLimit
from eureka_embed.http.messages import EndpointRequest
from eureka_embed.http.metrics import (
    AuthCollector,
    MetricsEndpoint,
    RegistryCollector,
    ReplicationCollector,
    RequestStats,
    WatchCollector,
)
from eureka_embed.http.operations import OperationEndpoints, operation_routes, probe_routes
from eureka_embed.http.payload_cache import PayloadCache
from eureka_embed.http.payloads import Payload, RegistryPayloads
from eureka_embed.http.probes import Readiness
from eureka_embed.http.server_status import PeersStatus
from eureka_embed.http.watches import Watches
from eureka_embed.registry import Registry
from eureka_embed.replication.receiver import ReplicationReceiver

if TYPE_CHECKING:
    from eureka_embed.remote_regions import RemoteRegions

__all__ = ["DEFAULT_BASE_PATHS", "EurekaApi"]

#: ``/eureka`` as Spring Cloud serves the API, ``/eureka/v2`` as Netflix does.
DEFAULT_BASE_PATHS: Final = ("/eureka", "/eureka/v2")


class EurekaApi:
    """The Eureka REST API of ``registry``, as routes with absolute path templates.

    The options are :func:`eureka_embed.wsgi.create_app`'s (documented there).

    ``fetch_limit`` turns on the limit of full and delta fetches
    (:mod:`eureka_embed.http.fetch_limit`); ``readiness`` is what ``/readyz`` asks (by default
    whether the registry's store answers; a server that copies from peers gives its own);
    ``remote_regions`` what ``?regions=`` adds to reads (:mod:`eureka_embed.remote_regions`;
    None: nothing, the parameter is ignored); ``server_kind`` names what serves it on the
    dashboard.

    ``max_watchers`` bounds the watching reads held at once by :meth:`Watches.wait` (a thread
    each); None: no bound (an asyncio adapter's :meth:`Watches.wait_async` is never bounded).

    :ivar services: what the endpoints share (registry, payload cache, replication receiver,
        watches).
    :ivar watches: the watch index of every view, and the holding of watching reads;
        :meth:`close` ends every wait.
    :ivar routes: every route at its full path: the API under each base path, then
        ``/healthz`` and ``/readyz``, ``/`` (the dashboard) and ``/metrics`` when enabled.
    :ivar request_stats: where an adapter records each request's method, route template, status
        and duration; None when metrics are off.
    """

    def __init__(
        self,
        registry: Registry,
        *,
        max_body_bytes: int = 1 << 20,
        peers_status: PeersStatus | None = None,
        base_paths: Sequence[str] = DEFAULT_BASE_PATHS,
        dashboard: bool = True,
        metrics: bool = True,
        title: str = "eureka_embed",
        cache_max_entries: int = 1024,
        max_watchers: int | None = None,
        auth: AuthOption | None = None,
        fetch_limit: FetchRateLimit | None = None,
        readiness: Readiness | None = None,
        server_kind: str = "embedded",
        remote_regions: RemoteRegions | None = None,
    ) -> None:
        if max_body_bytes < 0:
            raise ValueError("max_body_bytes must not be negative")
        if not base_paths or any(not path.startswith("/") for path in base_paths):
            raise ValueError("base_paths must be absolute paths such as '/eureka'")
        cache: PayloadCache[Payload | None] = PayloadCache(cache_max_entries)
        self.watches = Watches(registry.store, max_blocking=max_watchers)
        self.readiness = readiness if readiness is not None else Readiness(registry.store)
        #: Refuses fetches beyond ``fetch_limit``; None when there is no limit.
        self.fetch_limiter = (
            FetchLimiter(fetch_limit, registry.clock) if fetch_limit is not None else None
        )
        self.services = Services(
            registry=registry,
            payloads=RegistryPayloads(registry, cache, remote_regions),
            max_body_bytes=max_body_bytes,
            replication=ReplicationReceiver(registry),
            watches=self.watches,
            peers_status=peers_status,
            title=title,
            readiness=self.readiness,
            fetch_limiter=self.fetch_limiter,
            server_kind=server_kind,
            remote_regions=remote_regions,
        )
        endpoints = Endpoints(self.services)
        operations = OperationEndpoints(registry, self.readiness)
        #: Checks every request first when ``auth`` is given (see :mod:`eureka_embed.auth`).
        self.guard = AccessGuard(auth) if auth is not None else None
        guard = self.guard.route if self.guard is not None else _open
        routes: list[Route] = []
        for base in (path.rstrip("/") for path in base_paths):  # "/" serves the API at the root
            for route in [*eureka_routes(endpoints), *operation_routes(operations)]:
                routes.append(
                    guard(replace(route, template=f"{base}/{route.template}"), route.template)
                )
        # Open whatever the auth: access_of knows the probes (an orchestrator has no credentials).
        routes.extend(guard(route, route.template) for route in probe_routes(operations))
        if dashboard:
            routes.append(guard(dashboard_route(endpoints), "/"))
            self.dashboard_history = DashboardHistory(registry).attach()
            data = DashboardData(self.services, self.dashboard_history, self._may_administer)
            routes.extend(guard(route, route.template) for route in data.routes())
        self.request_stats: RequestStats | None = None
        if metrics:
            collectors = CollectorRegistry()
            collectors.register(RegistryCollector(registry, cache))
            collectors.register(ReplicationCollector(self.services.replication, peers_status))
            collectors.register(WatchCollector(self.watches))
            if self.guard is not None:
                collectors.register(AuthCollector(self.guard.auth))
            self.request_stats = RequestStats(collectors)
            routes.append(
                guard(Route("/metrics", {"GET": MetricsEndpoint(collectors)}), "/metrics")
            )
        self.routes: tuple[Route, ...] = tuple(routes)

    def _may_administer(self, request: EndpointRequest) -> bool:
        """Whether the dashboard offers its actions to the sender of ``request``."""
        return self.guard is None or self.guard.refusal(request, Access.ADMIN) is None

    @property
    def max_body_bytes(self) -> int:
        return self.services.max_body_bytes

    def close(self) -> None:
        """End every held watch at once (a server stopping); the routes keep answering."""
        self.watches.close()


def _open(route: Route, template: str) -> Route:
    """Without ``auth``: the route as it is, open as Eureka's are."""
    return route
