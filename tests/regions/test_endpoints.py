"""``?regions=`` on ``apps``, ``apps/delta``, ``vips`` and ``svips``, through both adapters and
both base paths: the remote applications included, the hashcode over all of it, unknown names
ignored, cached answers keyed by the regions and their copies, 403 before a first fetch."""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import falcon.testing
import orjson
import pytest

from eureka_embed.clock import ManualClock
from eureka_embed.protocol import INDEX_HEADER
from eureka_embed.registry import Registry
from tests.client.support import instance
from tests.regions.support import REGION, RegionRig, region_rig
from tests.wsgi.adapters import AppFactory
from tests.wsgi.helpers import BASES, JSON, XML, register

REMOTE_ID = "host1:billing:8080"
LOCAL_ID = "host1:orders:8080"


@dataclass
class Node:
    """A local node (ORDERS registered) following one region (BILLING registered there)."""

    rig: RegionRig
    client: falcon.testing.TestClient

    def get(self, path: str, headers: dict[str, str] | None = None) -> falcon.testing.Result:
        result = self.client.simulate_get(path, headers=headers or JSON)
        assert result.status_code == 200, result.text
        return result


def ids(result: falcon.testing.Result) -> list[str]:
    doc: dict[str, Any] = orjson.loads(result.content)
    return sorted(
        i["instanceId"] for app in doc["applications"]["application"] for i in app["instance"]
    )


def hashcode(result: falcon.testing.Result) -> str:
    code: str = orjson.loads(result.content)["applications"]["apps__hashcode"]
    return code


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def node(create_app: AppFactory, clock: ManualClock) -> Iterator[Node]:
    rig = region_rig(clock)
    rig.remote.register(instance(1, "BILLING", secure_vip_address="billing-secure"))
    rig.follower.start()
    app = create_app(Registry(clock=clock), remote_regions=rig.regions())
    client = falcon.testing.TestClient(app)
    register(client)
    yield Node(rig, client)
    rig.follower.stop()


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("regions", [REGION, "EU-WEST-1,nowhere", f" nowhere , {REGION}"])
def test_the_full_registry_with_regions_holds_the_remote_applications(
    node: Node, base: str, regions: str
) -> None:
    result = node.get(f"{base}/apps?regions={regions}")

    assert ids(result) == [REMOTE_ID, LOCAL_ID]
    assert hashcode(result) == "UP_2_"
    # Not a watch: the index does not count the remote copies.
    assert INDEX_HEADER not in result.headers


@pytest.mark.parametrize("base", BASES)
def test_without_regions_or_with_unknown_ones_the_registry_is_the_local_one(
    node: Node, base: str
) -> None:
    plain = node.get(f"{base}/apps")
    unknown = node.get(f"{base}/apps?regions=nowhere")

    assert ids(plain) == ids(unknown) == [LOCAL_ID]
    assert hashcode(plain) == hashcode(unknown) == "UP_1_"
    assert INDEX_HEADER in plain.headers


def test_xml_and_gzip_hold_the_remote_applications_too(node: Node) -> None:
    result = node.get(f"/eureka/apps?regions={REGION}", headers={**XML, "Accept-Encoding": "gzip"})

    assert result.headers["Content-Encoding"] == "gzip"
    root = ET.fromstring(gzip.decompress(result.content))
    assert root.findtext("apps__hashcode") == "UP_2_"
    assert sorted(root.findall("application/name"), key=lambda e: e.text or "")
    assert [e.text for e in root.findall("application/name")] == ["BILLING", "ORDERS"]


@pytest.mark.parametrize("base", BASES)
def test_the_delta_with_regions_holds_remote_changes_and_the_merged_hashcode(
    node: Node, base: str
) -> None:
    result = node.get(f"{base}/apps/delta?regions={REGION}")

    doc = orjson.loads(result.content)["applications"]
    actions = {i["instanceId"]: i["actionType"] for a in doc["application"] for i in a["instance"]}
    assert actions == {REMOTE_ID: "ADDED", LOCAL_ID: "ADDED"}
    assert doc["apps__hashcode"] == "UP_2_"
    assert hashcode(node.get(f"{base}/apps/delta")) == "UP_1_"


@pytest.mark.parametrize(("path", "vip"), [("vips", "billing"), ("svips", "billing-secure")])
def test_vip_reads_with_regions_find_remote_instances(node: Node, path: str, vip: str) -> None:
    assert ids(node.get(f"/eureka/{path}/{vip}")) == []

    result = node.get(f"/eureka/{path}/{vip}?regions={REGION}")

    assert ids(result) == [REMOTE_ID]
    assert hashcode(result) == "UP_1_"
    assert ids(node.get(f"/eureka/{path}/{vip}")) == []  # not the cached answer with regions


def test_cached_answers_follow_the_remote_copy_and_keep_regions_apart(node: Node) -> None:
    with_regions = f"/eureka/apps?regions={REGION}"
    assert ids(node.get(with_regions)) == [REMOTE_ID, LOCAL_ID]
    assert ids(node.get("/eureka/apps")) == [LOCAL_ID]
    etag = node.get(with_regions).headers["ETag"]

    node.rig.remote.register(instance(2, "BILLING"))
    node.rig.advance(30)  # the follower's next refresh

    result = node.get(with_regions)
    assert ids(result) == [REMOTE_ID, LOCAL_ID, "host2:billing:8080"]
    assert result.headers["ETag"] != etag
    assert ids(node.get(f"/eureka/vips/billing?regions={REGION}")) == [
        REMOTE_ID,
        "host2:billing:8080",
    ]
    assert ids(node.get("/eureka/apps")) == [LOCAL_ID]


def test_a_read_with_regions_is_not_a_watch(node: Node) -> None:
    # A watch's parameters are not even read (a plain read would be a 400 here).
    result = node.get(f"/eureka/apps/delta?regions={REGION}&index=not-a-number")

    assert hashcode(result) == "UP_2_"
    assert node.client.simulate_get("/eureka/apps/delta?index=x").status_code == 400


def test_until_a_region_was_fetched_full_and_delta_reads_with_regions_are_refused(
    create_app: AppFactory, clock: ManualClock
) -> None:
    rig = region_rig(clock)
    rig.tap.down = True
    rig.follower.start()
    client = falcon.testing.TestClient(
        create_app(Registry(clock=clock), remote_regions=rig.regions())
    )
    try:
        for path in ("apps", "apps/delta"):
            refused = client.simulate_get(f"/eureka/{path}?regions=nowhere")
            assert refused.status_code == 403
            assert REGION in refused.text
            assert client.simulate_get(f"/eureka/{path}").status_code == 200
        # Netflix does not refuse VIP reads for it.
        assert client.simulate_get(f"/eureka/vips/x?regions={REGION}").status_code == 200

        rig.tap.down = False
        rig.advance(600)

        assert client.simulate_get(f"/eureka/apps?regions={REGION}").status_code == 200
    finally:
        rig.follower.stop()


def test_a_node_that_follows_no_region_ignores_the_parameter(create_app: AppFactory) -> None:
    client = falcon.testing.TestClient(create_app(Registry()))
    register(client)

    result = client.simulate_get(f"/eureka/apps?regions={REGION}", headers=JSON)

    assert result.status_code == 200
    assert ids(result) == [LOCAL_ID]
