"""Two ``eureka-embed serve`` processes, one the remote region of the other: the local node
refuses reads with regions until the remote was fetched once, then serves its applications;
while the remote is stopped it serves the last copy and its dashboard says the region fails;
once the remote is back it catches up. A DiscoveryClient asking for the region sees both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from eureka_embed.client import DiscoveryClient, DiscoveryConfig
from tests.replication.test_cluster_processes import free_ports, url_of
from tests.server.support import ServeProcess, request, wait_for
from tests.server.support import register as registered

pytestmark = pytest.mark.slow

REGION = "eu-west-1"


def regions_read(base_url: str) -> tuple[int, dict[str, Any] | None]:
    answer = request(f"{base_url}apps?regions={REGION}", headers={"Accept": "application/json"})
    return answer.status, answer.json() if answer.status == 200 else None


def ids(doc: dict[str, Any]) -> list[str]:
    apps = doc["applications"]["application"]
    return sorted(i["instanceId"] for app in apps for i in app["instance"])


def region_state(root_url: str) -> dict[str, Any]:
    answer = request(f"{root_url}/dashboard/data")
    assert answer.status == 200, answer.body[:300]
    (region,) = orjson.loads(answer.body)["info"]["remoteRegions"]
    found: dict[str, Any] = region
    return found


def register(base_url: str, app: str, instance_id: str) -> None:
    assert registered(base_url, app, instance_id) == 204


def served_ids(base_url: str) -> list[str]:
    """The instances a read with regions shows; none while it is refused."""
    status, doc = regions_read(base_url)
    return ids(doc) if status == 200 and doc is not None else []


@pytest.fixture
def remote_port() -> int:
    (port,) = free_ports(1)
    return port


@pytest.fixture(params=["waitress", "uvicorn"])
def local(remote_port: int, request: pytest.FixtureRequest) -> Iterator[ServeProcess]:
    node = ServeProcess(
        [
            "--server",
            request.param,
            "--remote-region",
            f"{REGION}={url_of(remote_port)}",
            "--remote-region-fetch-interval",
            "0.5",
        ]
    )
    try:
        node.wait_ready()
        yield node
    finally:
        node.terminate()


def test_a_node_follows_its_remote_region_through_an_outage(
    local: ServeProcess, remote_port: int, tmp_path: Path
) -> None:
    local_base = local.base_url
    local_root = local_base.removesuffix("/eureka/")
    register(local_base, "ORDERS", "o1")

    # Never fetched: as Netflix, full reads with regions are refused; plain ones are not.
    status, _ = regions_read(local_base)
    assert status == 403
    assert region_state(local_root)["ok"] is False

    store = f"sqlite:///{tmp_path / 'remote.db'}"
    remote = ServeProcess(["--port", str(remote_port), "--store", store])
    try:
        remote.wait_ready()
        register(remote.base_url, "BILLING", "b1")
        wait_for(
            lambda: served_ids(local_base) == ["b1", "o1"],
            timeout=30,
            what="the remote region in the local node's answers",
        )
        _, doc = regions_read(local_base)
        assert doc is not None and doc["applications"]["apps__hashcode"] == "UP_2_"
        assert region_state(local_root)["ok"] is True

        config = DiscoveryConfig(
            "watcher",
            service_urls=local_base,
            register_with_eureka=False,
            fetch_regions=(REGION,),
            host_name="localhost",
            ip_addr="127.0.0.1",
        )
        with DiscoveryClient(config) as client:
            assert [i.instance_id for i in client.get_instances("BILLING")] == ["b1"]
            assert [i.instance_id for i in client.get_instances("ORDERS")] == ["o1"]
    finally:
        remote.terminate()

    # The remote is down: the last copy is served, and the dashboard says it fails.
    wait_for(lambda: region_state(local_root)["ok"] is False, timeout=30, what="failing")
    status, doc = regions_read(local_base)
    assert status == 200 and doc is not None
    assert ids(doc) == ["b1", "o1"]
    assert region_state(local_root)["instances"] == 1

    restarted = ServeProcess(["--port", str(remote_port), "--store", store])
    try:
        restarted.wait_ready()
        register(restarted.base_url, "BILLING", "b2")
        wait_for(
            lambda: served_ids(local_base) == ["b1", "b2", "o1"],
            timeout=30,
            what="the local node catching up with the restarted remote",
        )
        state = region_state(local_root)
        assert state["ok"] is True and state["instances"] == 2
    finally:
        restarted.terminate()
