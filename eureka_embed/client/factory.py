"""The standard client stacks, assembled as Eureka assembles its own.

::

    SessionedClient                 a new inner stack every 0.5-1.5 x 20 minutes
    └── RetryingClient              3 tries across the resolved servers, quarantine
        └── RedirectingClient       one per server: 302s followed, target remembered
            └── MetricsClient       every real exchange counted and timed
                └── RestEurekaHttpClient over a Transport (urllib3 unless given)

A discovery client uses two such stacks, as Eureka's transport does: one for registration
traffic (register, heartbeat, cancel, status) and one for queries (registry fetches), so a
slow multi-megabyte fetch never holds up a heartbeat, and each keeps its own pinned server,
quarantine and figures.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias, get_args

from eureka_embed.client.config import TransportConfig
from eureka_embed.client.contract import EurekaHttpClient
from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.client.metrics import ClientMetrics, MetricsClient
from eureka_embed.client.redirecting import RedirectingClient
from eureka_embed.client.resolvers import DEFAULT_ZONE, EndpointResolver, resolver_for
from eureka_embed.client.rest import RestEurekaHttpClient
from eureka_embed.client.retrying import RetryingClient
from eureka_embed.client.sessioned import SessionedClient
from eureka_embed.client.transport import TransportFactory
from eureka_embed.client.urllib3_transport import urllib3_transports
from eureka_embed.clock import Clock

__all__ = [
    "EurekaTransport",
    "Purpose",
    "ServiceUrls",
    "TransportFactory",
    "build_client_stack",
    "client_stack",
    "eureka_transport",
    "query_client",
    "registration_client",
]

ServiceUrls: TypeAlias = str | Mapping[str, str | Sequence[str]] | EndpointResolver
#: What a stack carries (see :func:`client_stack`).
Purpose: TypeAlias = Literal["registration", "query"]
_PURPOSES: tuple[str, ...] = get_args(Purpose)


def build_client_stack(
    resolver: EndpointResolver,
    *,
    config: TransportConfig | None = None,
    metrics: ClientMetrics | None = None,
    transport_factory: TransportFactory | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    identity_id: str | None = None,
) -> EurekaHttpClient:
    """The full layered client over ``resolver``'s servers.

    ``transport_factory`` makes one transport per server client (default: urllib3 with the
    configured time-outs), given the server's endpoint; a per-server transport is closed with
    its client, so a new session also means new connections. ``identity_id`` is sent as
    ``DiscoveryIdentity-Id`` (see :class:`~eureka_embed.client.rest.RestEurekaHttpClient`).
    """
    settings = config if config is not None else TransportConfig()
    counters = metrics if metrics is not None else ClientMetrics()
    new_transport = transport_factory or urllib3_transports(
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
        max_connections_per_host=settings.max_connections_per_host,
        ca_file=settings.ca_file,
        cert_file=settings.client_cert,
        key_file=settings.client_key,
    )

    def server_client(endpoint: EurekaEndpoint) -> EurekaHttpClient:
        rest = RestEurekaHttpClient(
            endpoint,
            new_transport(endpoint),
            wire_format=settings.wire_format,
            compact=settings.compact,
            gzip=settings.gzip,
            clock=clock,
            identity_id=identity_id,
        )
        return MetricsClient(rest, counters)

    def redirecting_client(endpoint: EurekaEndpoint) -> EurekaHttpClient:
        return RedirectingClient(endpoint, server_client, max_redirects=settings.max_redirects)

    def session() -> EurekaHttpClient:
        return RetryingClient(
            resolver,
            redirecting_client,
            max_tries=settings.max_tries,
            quarantine_refresh_fraction=settings.quarantine_refresh_fraction,
        )

    return SessionedClient(
        session, reconnect_interval_s=settings.reconnect_interval_s, clock=clock, rng=rng
    )


def client_stack(
    service_urls: ServiceUrls,
    purpose: Purpose,
    *,
    zone: str = DEFAULT_ZONE,
    config: TransportConfig | None = None,
    transport_factory: TransportFactory | None = None,
    metrics: ClientMetrics | None = None,
    clock: Clock | None = None,
    identity_id: str | None = None,
) -> EurekaHttpClient:
    """The layered client over ``service_urls`` for one ``purpose``.

    ``"registration"`` carries register, heartbeat, cancel and status traffic, ``"query"``
    the registry reads (full, delta, application, instance, VIP). The stacks are alike; the
    purpose names their figures unless ``metrics`` are given.
    """
    if purpose not in _PURPOSES:
        raise ValueError(f"purpose must be one of {', '.join(_PURPOSES)}, not {purpose!r}")
    return build_client_stack(
        resolver_for(service_urls, zone),
        config=config,
        metrics=metrics if metrics is not None else ClientMetrics(purpose),
        transport_factory=transport_factory,
        clock=clock,
        identity_id=identity_id,
    )


#: ``client_stack(service_urls, "registration", ...)``.
registration_client = functools.partial(client_stack, purpose="registration")
#: ``client_stack(service_urls, "query", ...)``.
query_client = functools.partial(client_stack, purpose="query")


@dataclass(frozen=True, slots=True)
class EurekaTransport:
    """The two stacks of a discovery client, with their figures."""

    registration: EurekaHttpClient
    query: EurekaHttpClient
    registration_metrics: ClientMetrics
    query_metrics: ClientMetrics

    def shutdown(self) -> None:
        self.registration.shutdown()
        self.query.shutdown()


def eureka_transport(
    service_urls: ServiceUrls,
    *,
    zone: str = DEFAULT_ZONE,
    config: TransportConfig | None = None,
    transport_factory: TransportFactory | None = None,
    clock: Clock | None = None,
    identity_id: str | None = None,
) -> EurekaTransport:
    """A registration stack and a query stack over the same servers."""
    resolver = resolver_for(service_urls, zone)
    registration_metrics = ClientMetrics("registration")
    query_metrics = ClientMetrics("query")
    return EurekaTransport(
        registration=client_stack(
            resolver,
            "registration",
            config=config,
            transport_factory=transport_factory,
            metrics=registration_metrics,
            clock=clock,
            identity_id=identity_id,
        ),
        query=client_stack(
            resolver,
            "query",
            config=config,
            transport_factory=transport_factory,
            metrics=query_metrics,
            clock=clock,
            identity_id=identity_id,
        ),
        registration_metrics=registration_metrics,
        query_metrics=query_metrics,
    )
