"""The async httpx transport, and a DiscoveryClient started and stopped with ``async with``,
against a live server; the event loop is never blocked (asyncio's debug slow-callback log)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
import pytest

from eureka_embed.client import DiscoveryClient, TransportConfig
from eureka_embed.client.httpx import AsyncEurekaTransport, NoInstanceAvailable
from eureka_embed.model import InstanceStatus
from eureka_embed.server import EurekaServer
from tests.client.httpx_support import APP, AsyncRecording, caller_config, fleet

# A callback (one step of a task) that runs longer than this is logged by asyncio's debug
# mode. Well above what the loop's own steps take on a loaded machine (0.1 s seen at a load
# of 13 on 2 cores), well below what a start or stop waiting on the network here takes (the
# silent server below: 0.5 s for each stack; the slow health check: 0.6 s).
SLOW_CALLBACK_S = 0.4


async def _until_up(discovery: DiscoveryClient, count: int) -> None:
    deadline = asyncio.get_running_loop().time() + 10
    while len(discovery.get_instances(APP)) != count:
        assert asyncio.get_running_loop().time() < deadline, f"{count} UP instances of {APP}"
        await asyncio.sleep(0.02)


def test_the_async_transport_spreads_retries_and_names_a_service_with_none_up(
    eureka_server: EurekaServer,
) -> None:
    inner = AsyncRecording()

    async def main() -> None:
        async with DiscoveryClient(caller_config(eureka_server)) as discovery:
            await _until_up(discovery, 3)
            transport = AsyncEurekaTransport(discovery, inner=inner)
            async with httpx.AsyncClient(transport=transport) as client:
                answers = Counter([(await client.get("http://orders/")).text for _ in range(6)])
                assert answers == {"orders-1": 2, "orders-2": 2, "orders-3": 2}

                services[0].server.stop()
                before = inner.ports.count(services[0].port)
                answers = Counter([(await client.get("http://orders/")).text for _ in range(6)])
                assert answers == {"orders-2": 3, "orders-3": 3}
                assert inner.ports.count(services[0].port) == before + 1, (
                    "retried past, then cooled"
                )

                for service in services:
                    eureka_server.registry.update_status(
                        APP, service.name, InstanceStatus.OUT_OF_SERVICE
                    )
                await _until_up(discovery, 0)
                with pytest.raises(NoInstanceAvailable, match="orders"):
                    await client.get("http://orders/")

    with fleet(eureka_server) as services:
        asyncio.run(main())


@contextmanager
def _black_hole() -> Iterator[str]:
    """A Eureka URL whose server takes connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/eureka/"
    finally:
        listener.close()


def test_start_calls_and_stop_leave_the_event_loop_free(
    eureka_server: EurekaServer, caplog: pytest.LogCaptureFixture
) -> None:
    me = "127.0.0.1:caller:8080"
    checking = threading.Event()

    def slow_health_check() -> bool:
        # A health check that takes its time: stopping waits for the one in progress.
        checking.set()
        time.sleep(0.6)
        checking.clear()
        return True

    async def main() -> None:
        asyncio.get_running_loop().slow_callback_duration = SLOW_CALLBACK_S
        async with DiscoveryClient(config, health_check=slow_health_check) as discovery:
            assert eureka_server.registry.get_instance("CALLER", me) is not None
            await _until_up(discovery, 3)
            async with httpx.AsyncClient(transport=AsyncEurekaTransport(discovery)) as client:
                for _ in range(9):
                    assert (await client.get("http://orders/")).status_code == 200
            while not checking.is_set():  # leave while one is in progress
                await asyncio.sleep(0.01)
        assert eureka_server.registry.get_instance("CALLER", me) is None, "cancelled"

    with _black_hole() as silent, fleet(eureka_server):
        # Registration and the first fetch each wait out the silent server before the live one.
        config = replace(
            caller_config(eureka_server),
            service_urls=f"{silent},{eureka_server.base_url}",
            register_with_eureka=True,
            instance_info_replication_interval_s=0.1,
            transport=TransportConfig(connect_timeout_s=1, read_timeout_s=0.5),
        )
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            asyncio.run(main(), debug=True)
    slow = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert slow == []
