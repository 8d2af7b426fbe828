"""Interop with py_eureka_client (PyPI): each finds what the other registered."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eureka_embed.client import DiscoveryClient, DiscoveryConfig, TransportConfig
from eureka_embed.server import EurekaServer
from tests.client.support import wait_until

PEER = Path(__file__).with_name("py_eureka_peer.py")
ROOT = Path(__file__).parents[2]


@contextmanager
def _peer(*args: str) -> Iterator[subprocess.Popen[str]]:
    """The peer script running ``args``; killed if still running when the block ends."""
    with subprocess.Popen(
        [sys.executable, str(PEER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    ) as process:
        try:
            yield process
            if process.stdin is not None:
                process.stdin.close()
            process.wait(15)
        finally:
            if process.poll() is None:
                process.kill()


def _line(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"the peer said nothing; stderr: {process.stderr.read() if process.stderr else ''}"
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def _config(base_url: str, **changes: Any) -> DiscoveryConfig:
    return DiscoveryConfig(
        "ours",
        service_urls=base_url,
        host_name="127.0.0.1",
        ip_addr="127.0.0.1",
        port=9100,
        lease_renewal_interval_s=0.5,
        registry_fetch_interval_s=0.2,
        transport=TransportConfig(connect_timeout_s=1, read_timeout_s=2),
        **changes,
    )


def test_py_eureka_client_finds_an_instance_our_client_registered(
    eureka_server: EurekaServer,
) -> None:
    with (
        DiscoveryClient(_config(eureka_server.base_url)),
        _peer("find", eureka_server.base_url, "OURS") as finder,
    ):
        found = _line(finder)

    assert found["instances"] == [
        {"instanceId": "127.0.0.1:ours:9100", "ipAddr": "127.0.0.1", "port": 9100}
    ]


def test_our_client_finds_an_instance_py_eureka_client_registered(
    eureka_server: EurekaServer,
) -> None:
    with _peer("register", eureka_server.base_url, "py-peer", "9200") as registrar:
        registered = _line(registrar)["registered"]
        with DiscoveryClient(_config(eureka_server.base_url, register_with_eureka=False)) as ours:
            [peer] = wait_until(lambda: ours.get_instances("PY-PEER"), what="the py peer")
            assert (peer.instance_id, peer.port.port) == (registered, 9200)
            assert ours.next_server("py-peer") == peer

            assert registrar.stdin is not None
            registrar.stdin.write("stop\n")
            registrar.stdin.flush()
            assert _line(registrar) == {"stopped": True}
            # The cancel reaches us through a delta.
            wait_until(lambda: not ours.get_instances("PY-PEER"), what="the peer's cancel")
