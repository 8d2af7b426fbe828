"""Client settings: frozen dataclasses carrying Eureka's client defaults (SPEC section 4)."""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from eureka_embed.client.resolvers import EndpointResolver
from eureka_embed.codec import WireFormat
from eureka_embed.model import (
    EMPTY_METADATA,
    DataCenterInfo,
    InstanceInfo,
    InstanceStatus,
    LeaseInfo,
    PortInfo,
    frozen_metadata,
)

__all__ = ["MAX_WATCH_WAIT_S", "DiscoveryConfig", "TransportConfig"]

#: The longest wait a server grants a watch.
MAX_WATCH_WAIT_S = 300.0


@dataclass(frozen=True, slots=True)
class TransportConfig:
    """How a client stack talks HTTP. Every default is Eureka's client default."""

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 8.0
    wire_format: WireFormat = WireFormat.JSON
    #: Ask for gzipped answers (a full registry shrinks about tenfold).
    gzip: bool = True
    #: Ask for Eureka's compact instance form on reads (no metadata, URLs, lease info).
    compact: bool = False
    #: A new session (endpoint choice, connections) after 0.5-1.5 x this.
    reconnect_interval_s: float = 1200.0
    max_tries: int = 3
    #: Clear the quarantine once it holds this share of the servers.
    quarantine_refresh_fraction: float = 0.66
    max_redirects: int = 10
    #: Idle keep-alive connections kept per server.
    max_connections_per_host: int = 4
    #: ``https://`` servers: PEM certificates trusted instead of the system's (a private CA).
    ca_file: str | None = None
    #: A client certificate (PEM) for servers that ask for one (mutual TLS), and its key
    #: when it is in a file of its own.
    client_cert: str | None = None
    client_key: str | None = None

    def __post_init__(self) -> None:
        for name in ("connect_timeout_s", "read_timeout_s", "reconnect_interval_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.max_tries < 1:
            raise ValueError("max_tries must be at least 1")
        if not 0 < self.quarantine_refresh_fraction <= 1:
            raise ValueError("quarantine_refresh_fraction must be in (0, 1]")
        if self.max_redirects < 0:
            raise ValueError("max_redirects must not be negative")
        if self.max_connections_per_host < 1:
            raise ValueError("max_connections_per_host must be at least 1")


@dataclass(frozen=True, slots=True)
class DiscoveryConfig:
    """What a :class:`~eureka_embed.client.discovery.DiscoveryClient` registers and how often it
    talks to the servers. Defaults are Eureka's (heartbeat and fetch every 30 s, lease 90 s,
    back-off up to 10 x), except where marked *ours*.

    Intervals are floats so tests can run at sub-second pace; the lease terms sent to the
    server are whole seconds (at least 1), as the wire format has them.
    """

    app_name: str
    #: Spring's ``defaultZone`` form (comma-separated URLs), a map of zone -> URLs, or a
    #: resolver of one's own.
    service_urls: str | Mapping[str, str | Sequence[str]] | EndpointResolver = (
        "http://localhost:8761/eureka/"
    )
    #: The client's own zone: its servers are preferred when ``service_urls`` is a map.
    zone: str = "defaultZone"
    #: Defaults to ``host:app:port``, as Spring Cloud builds it.
    instance_id: str | None = None
    #: Defaults to this machine's host name.
    host_name: str | None = None
    #: Defaults to the address the host name resolves to (127.0.0.1 if it does not resolve).
    ip_addr: str | None = None
    #: Register the IP address as the hostName (Spring's ``preferIpAddress``), for callers
    #: that cannot resolve this machine's name. The default instance id keeps the host name.
    prefer_ip_address: bool = False
    port: int = 8080
    port_enabled: bool = True
    secure_port: int = 443
    secure_port_enabled: bool = False
    #: Defaults to the application name in lower case.
    vip_address: str | None = None
    secure_vip_address: str | None = None
    metadata: Mapping[str, str] = field(default_factory=lambda: EMPTY_METADATA)
    home_page_url: str | None = None
    status_page_url: str | None = None
    health_check_url: str | None = None
    data_center_name: str = "MyOwn"
    #: The status registered first. *ours*: UP (Eureka starts at STARTING unless told).
    initial_status: InstanceStatus = InstanceStatus.UP

    lease_renewal_interval_s: float = 30.0
    lease_duration_s: float = 90.0
    registry_fetch_interval_s: float = 30.0
    #: How often the instance is checked for changes (health check, status) to push.
    instance_info_replication_interval_s: float = 30.0
    #: Delay before the first registration. *ours*: 0, register at start (Eureka waits 40 s).
    initial_delay_s: float = 0.0
    heartbeat_backoff_bound: int = 10
    fetch_backoff_bound: int = 10
    #: On-demand status pushes: a burst of this many, refilled at burst per replication interval.
    status_update_burst: int = 2

    register_with_eureka: bool = True
    fetch_registry: bool = True
    #: Always fetch the full registry instead of deltas.
    disable_delta: bool = False
    #: Lookups return only UP instances unless asked otherwise.
    filter_only_up_instances: bool = True
    #: Remote regions to include in fetches (sent as ``?regions=``).
    fetch_regions: tuple[str, ...] = ()
    #: *ours*: when the server's answers carry ``X-Eureka-Index`` (eureka-embed servers), hold
    #: a watch on the delta instead of polling it, so changes arrive as they happen. Against a
    #: plain Eureka server the client polls, found out from each answer.
    watch: bool = True
    #: How long the server may hold one watch (at most 5 minutes, the server's bound). The read
    #: time-out of a watch is this plus ``transport.read_timeout_s``.
    watch_wait_s: float = 30.0
    transport: TransportConfig = field(default_factory=TransportConfig)

    def __post_init__(self) -> None:
        if not self.app_name or not self.app_name.strip():
            raise ValueError("app_name must not be empty")
        object.__setattr__(self, "metadata", frozen_metadata(self.metadata))
        for name in (
            "lease_renewal_interval_s",
            "lease_duration_s",
            "registry_fetch_interval_s",
            "instance_info_replication_interval_s",
        ):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number of seconds")
        if not (0 < self.watch_wait_s <= MAX_WATCH_WAIT_S):
            raise ValueError(f"watch_wait_s must be in (0, {MAX_WATCH_WAIT_S:g}] seconds")
        if self.initial_delay_s < 0:
            raise ValueError("initial_delay_s must not be negative")
        if self.heartbeat_backoff_bound < 1 or self.fetch_backoff_bound < 1:
            raise ValueError("back-off bounds must be at least 1")
        if self.status_update_burst < 1:
            raise ValueError("status_update_burst must be at least 1")
        for port in (self.port, self.secure_port):
            if not 0 <= port <= 65535:
                raise ValueError(f"port {port} out of range")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, /, **defaults: Any
    ) -> DiscoveryConfig:
        """The configuration the environment (``os.environ`` unless given) describes, under
        the variable names Spring services use (``EUREKA_CLIENT_SERVICEURL_DEFAULTZONE``,
        ``EUREKA_INSTANCE_PREFER_IP_ADDRESS``, ...; the list is
        :data:`eureka_embed.client.spring_env.SETTINGS`). ``defaults`` are field values for
        what the environment leaves unset (``transport`` among them, whose fields the
        environment may set in turn).

        :raises ~eureka_embed.client.spring_env.InvalidEnvironment: a variable's value does not
            parse, or no application name is given (``SPRING_APPLICATION_NAME`` or
            ``EUREKA_INSTANCE_APPNAME``) in the environment or ``defaults``.
        """
        from eureka_embed.client.spring_env import InvalidEnvironment, read_environment

        env = os.environ if environ is None else environ
        fields, transport_fields = read_environment(env)
        merged = {**defaults, **fields}
        if transport_fields:
            base = merged.get("transport") or TransportConfig()
            merged["transport"] = replace(base, **transport_fields)
        if not merged.get("app_name"):
            raise InvalidEnvironment(
                "SPRING_APPLICATION_NAME", "no application name (or EUREKA_INSTANCE_APPNAME)"
            )
        return cls(**merged)

    def build_instance(self, now_ms: int) -> InstanceInfo:
        """The instance this configuration describes, dirty as of ``now_ms``."""
        app = self.app_name.strip().upper()
        host = self.host_name or socket.gethostname()
        ip = self.ip_addr or _resolve_ip(host)
        return InstanceInfo(
            # Spring Cloud's default: host name, application name, port.
            instance_id=self.instance_id or f"{host}:{self.app_name.strip().lower()}:{self.port}",
            app=app,
            host_name=ip if self.prefer_ip_address else host,
            ip_addr=ip,
            status=self.initial_status,
            port=PortInfo(self.port, self.port_enabled),
            secure_port=PortInfo(self.secure_port, self.secure_port_enabled),
            data_center_info=DataCenterInfo(self.data_center_name),
            lease_info=LeaseInfo(
                renewal_interval_secs=max(1, round(self.lease_renewal_interval_s)),
                duration_secs=max(1, math.ceil(self.lease_duration_s)),
            ),
            metadata=self.metadata,
            home_page_url=self.home_page_url,
            status_page_url=self.status_page_url,
            health_check_url=self.health_check_url,
            vip_address=self.vip_address or self.app_name.strip().lower(),
            secure_vip_address=self.secure_vip_address,
            last_updated_timestamp=now_ms,
            last_dirty_timestamp=now_ms,
        )


def _resolve_ip(host: str) -> str:
    try:
        return socket.gethostbyname(host)
    except OSError:
        return "127.0.0.1"
