"""A pure-Python Eureka client: the REST contract, its layered HTTP stacks, and DiscoveryClient.

Register a service and look others up::

    from eureka_embed.client import DiscoveryClient, DiscoveryConfig

    config = DiscoveryConfig("orders", service_urls="http://eureka:8761/eureka/", port=8080)
    with DiscoveryClient(config) as client:
        server = client.next_server("payments")

Or talk to a server operation by operation::

    from eureka_embed.client import client_stack

    with client_stack("http://eureka:8761/eureka/", "query") as eureka:
        eureka.get_applications().entity

Call services by name with httpx (the ``httpx`` extra): ``eureka_embed.client.httpx``.
"""

from __future__ import annotations

from eureka_embed.client.abort import AbortSignal
from eureka_embed.client.balancing import (
    CoolingOff,
    InstanceChooser,
    RandomChoice,
    RoundRobin,
    Weighted,
    ZonePreference,
)
from eureka_embed.client.cache import CacheView
from eureka_embed.client.config import DiscoveryConfig, TransportConfig
from eureka_embed.client.contract import ClientLayer, EurekaHttpClient
from eureka_embed.client.discovery import (
    CacheRefreshed,
    DiscoveryClient,
    DiscoveryStats,
    HealthCheck,
)
from eureka_embed.client.endpoints import EurekaEndpoint, parse_service_urls
from eureka_embed.client.errors import (
    Aborted,
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    InvalidResponse,
    NoEndpoints,
    ReadTimeout,
    RedirectError,
    RetriesExhausted,
    TransportError,
)
from eureka_embed.client.factory import (
    EurekaTransport,
    build_client_stack,
    client_stack,
    eureka_transport,
    query_client,
    registration_client,
)
from eureka_embed.client.inprocess import InProcessEurekaClient
from eureka_embed.client.metrics import ClientMetrics, MetricsClient, MetricsSnapshot
from eureka_embed.client.redirecting import RedirectingClient
from eureka_embed.client.resolvers import EndpointResolver, StaticResolver, ZoneAwareResolver
from eureka_embed.client.response import EurekaResponse, RequestKind
from eureka_embed.client.rest import RestEurekaHttpClient
from eureka_embed.client.retrying import RetryingClient
from eureka_embed.client.scheduling import ManualScheduler, Scheduler, ThreadScheduler
from eureka_embed.client.sessioned import SessionedClient
from eureka_embed.client.transport import (
    HttpRequest,
    HttpResponse,
    MockTransport,
    Transport,
    TransportFactory,
)
from eureka_embed.client.urllib3_transport import Urllib3Transport, urllib3_transports

__all__ = [
    "AbortSignal",
    "Aborted",
    "CacheRefreshed",
    "CacheView",
    "ClientLayer",
    "ClientMetrics",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionLost",
    "CoolingOff",
    "DiscoveryClient",
    "DiscoveryConfig",
    "DiscoveryStats",
    "EndpointResolver",
    "EurekaEndpoint",
    "EurekaHttpClient",
    "EurekaResponse",
    "EurekaTransport",
    "HealthCheck",
    "HttpRequest",
    "HttpResponse",
    "InProcessEurekaClient",
    "InstanceChooser",
    "InvalidResponse",
    "ManualScheduler",
    "MetricsClient",
    "MetricsSnapshot",
    "MockTransport",
    "NoEndpoints",
    "RandomChoice",
    "ReadTimeout",
    "RedirectError",
    "RedirectingClient",
    "RequestKind",
    "RestEurekaHttpClient",
    "RetriesExhausted",
    "RetryingClient",
    "RoundRobin",
    "Scheduler",
    "SessionedClient",
    "StaticResolver",
    "ThreadScheduler",
    "Transport",
    "TransportConfig",
    "TransportError",
    "TransportFactory",
    "Urllib3Transport",
    "Weighted",
    "ZoneAwareResolver",
    "ZonePreference",
    "build_client_stack",
    "client_stack",
    "eureka_transport",
    "parse_service_urls",
    "query_client",
    "registration_client",
    "urllib3_transports",
]
