"""Helpers for the httpx transport tests: a fleet of real small HTTP services registered in a
live server, a caller's DiscoveryClient over HTTP, and inner transports that record tries."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from eureka_embed.client import DiscoveryClient, DiscoveryConfig, TransportConfig
from eureka_embed.model import InstanceInfo, InstanceStatus, PortInfo
from eureka_embed.server import EurekaServer
from tests.client.support import LoopbackServer, Reply, Seen, wait_until

APP = "ORDERS"


@dataclass
class Service:
    """One instance of ORDERS: a real HTTP server answering its name, with a status to play."""

    name: str
    zone: str | None = None
    status: int = 200
    server: LoopbackServer = field(init=False)

    def __post_init__(self) -> None:
        self.server = LoopbackServer(self._answer).start()

    def _answer(self, seen: Seen) -> Reply:
        # No keep-alive: a stopped service must refuse the next call, as a dead process does,
        # not answer it on a connection its handler thread still holds open.
        headers = {"Content-Type": "text/plain", "Connection": "close"}
        return Reply(self.status, headers, self.name.encode())

    @property
    def port(self) -> int:
        port = urlsplit(self.server.url).port
        assert port is not None
        return port

    @property
    def seen(self) -> list[Seen]:
        return self.server.seen

    def instance(self, **changes: object) -> InstanceInfo:
        metadata: Mapping[str, str] = {"zone": self.zone} if self.zone else {}
        built = InstanceInfo(
            instance_id=self.name,
            app=APP,
            host_name="127.0.0.1",
            ip_addr="127.0.0.1",
            status=InstanceStatus.UP,
            port=PortInfo(self.port, True),
            vip_address="orders-vip",
            metadata=metadata,
            last_dirty_timestamp=1_000,
        )
        return built.evolve(**changes) if changes else built


@contextmanager
def fleet(server: EurekaServer, *zones: str | None) -> Iterator[list[Service]]:
    """One registered service per zone given (three without zones); always stopped."""
    services = [Service(f"orders-{n}", zone) for n, zone in enumerate(zones or (None,) * 3, 1)]
    try:
        for service in services:
            server.registry.register(service.instance())
        yield services
    finally:
        for service in services:
            service.server.stop()


def caller_config(server: EurekaServer) -> DiscoveryConfig:
    """A caller that only reads the registry, watching it (changes arrive within ms)."""
    return DiscoveryConfig(
        "caller",
        service_urls=server.base_url,
        host_name="127.0.0.1",
        ip_addr="127.0.0.1",
        register_with_eureka=False,
        registry_fetch_interval_s=0.5,
        watch_wait_s=5,
        transport=TransportConfig(connect_timeout_s=1, read_timeout_s=2),
    )


def wait_for_up(client: DiscoveryClient, count: int, app: str = APP) -> None:
    wait_until(
        lambda: len(client.get_instances(app)) == count,
        what=f"the caller's copy showing {count} UP instances of {app}",
    )


class Recording(httpx.BaseTransport):
    """Sends through a real transport, keeping each try's target port."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.ports: list[int | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.ports.append(request.url.port)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class AsyncRecording(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.ports: list[int | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.ports.append(request.url.port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
