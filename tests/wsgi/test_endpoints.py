"""Every endpoint of SPEC section 1, under both base paths, in JSON and XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import falcon.testing
import pytest

from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.events import RegistryEvent, WriteAction
from eureka_embed.model import InstanceStatus
from eureka_embed.protocol import INDEX_HEADER
from eureka_embed.registry import Registry
from eureka_embed.storage import Store
from tests.wsgi.adapters import AppFactory
from tests.wsgi.helpers import (
    JSON,
    XML,
    instance_id,
    instance_ids,
    json_body,
    json_of,
    register,
    statuses,
    xml_body,
)

ID1 = instance_id(1)
ENCODED_ID1 = ID1.replace(":", "%3A")
REPLICATION = {"x-netflix-discovery-replication": "true"}


@pytest.fixture
def registry(clock: ManualClock, store: Store) -> Iterator[Registry]:
    """This module's registry runs over every store (the ``store`` fixture); the SQL stores
    under ``/eureka`` on WSGI only (see ``tests/wsgi/conftest.py``)."""
    made = Registry(store, config=RegistryConfig(self_preservation=False), clock=clock)
    try:
        yield made
    finally:
        made.close()


# -- register ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/json", json_body()), ("application/xml", xml_body())],
    ids=["json", "xml"],
)
def test_register_answers_204_with_no_body_and_the_instance_is_served(
    client: falcon.testing.TestClient, registry: Registry, base: str, content_type: str, body: bytes
) -> None:
    result = client.simulate_post(
        f"{base}/apps/ORDERS", body=body, headers={"Content-Type": content_type}
    )

    assert result.status_code == 204
    assert result.content == b""
    stored = registry.get_instance("ORDERS", ID1)
    assert stored is not None
    assert stored.host_name == "host1"
    assert stored.port.port == 8080


def test_register_upper_cases_the_app_name_of_the_url(
    client: falcon.testing.TestClient, registry: Registry, base: str
) -> None:
    result = client.simulate_post(
        f"{base}/apps/orders",
        body=json_body(app="orders"),
        headers={"Content-Type": "application/json"},
    )

    assert result.status_code == 204
    application = registry.get_application("ORDERS")
    assert application is not None
    assert [i.instance_id for i in application] == [instance_id(1, "orders")]


def test_a_clients_re_registration_keeps_the_stored_status_but_a_peers_does_not(
    client: falcon.testing.TestClient, registry: Registry, base: str
) -> None:
    register(client, status="OUT_OF_SERVICE")
    headers = {"Content-Type": "application/json"}

    client.simulate_post(f"{base}/apps/ORDERS", body=json_body(), headers=headers)
    stored = registry.get_instance("ORDERS", ID1)
    assert stored is not None
    assert stored.status is InstanceStatus.OUT_OF_SERVICE

    client.simulate_post(
        f"{base}/apps/ORDERS", body=json_body(), headers={**headers, **REPLICATION}
    )
    stored = registry.get_instance("ORDERS", ID1)
    assert stored is not None
    assert stored.status is InstanceStatus.UP


WRITES = {
    "register": ("POST", "apps/ORDERS", "", WriteAction.REGISTER),
    "heartbeat": ("PUT", f"apps/ORDERS/{ENCODED_ID1}", "", WriteAction.HEARTBEAT),
    "status": ("PUT", f"apps/ORDERS/{ID1}/status", "value=DOWN", WriteAction.STATUS_UPDATE),
    "override": ("DELETE", f"apps/ORDERS/{ID1}/status", "", WriteAction.DELETE_STATUS_OVERRIDE),
    "metadata": ("PUT", f"apps/ORDERS/{ID1}/metadata", "a=b", WriteAction.REGISTER),
    "cancel": ("DELETE", f"apps/ORDERS/{ID1}", "", WriteAction.CANCEL),
}


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize("replication", [False, True], ids=["client", "peer"])
def test_the_replication_header_marks_every_write(
    client: falcon.testing.TestClient, registry: Registry, write: str, replication: bool
) -> None:
    register(client)
    events: list[RegistryEvent] = []
    registry.add_listener(events.append)
    method, path, query, action = WRITES[write]
    headers = {"Content-Type": "application/json", **(REPLICATION if replication else {})}

    result = client.simulate_request(
        method, f"/eureka/{path}", query_string=query, body=json_body(), headers=headers
    )

    assert result.status_code in (200, 204), result.text
    assert [(e.action, e.replication) for e in events] == [(action, replication)]


# -- reads ------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["apps", "apps/", "apps?regions=us-east-1"])
def test_full_registry_in_json(client: falcon.testing.TestClient, base: str, suffix: str) -> None:
    register(client, 1)
    register(client, 2)
    register(client, 1, app="BILLING")

    result = client.simulate_get(f"{base}/{suffix}", headers=JSON)

    assert result.status_code == 200
    assert result.headers["Content-Type"] == "application/json"
    payload = json_of(result)
    assert payload["applications"]["apps__hashcode"] == "UP_3_"
    assert instance_ids(payload) == sorted(
        [instance_id(1), instance_id(2), instance_id(1, "BILLING")]
    )


def test_full_registry_in_xml(client: falcon.testing.TestClient, base: str) -> None:
    register(client)

    result = client.simulate_get(f"{base}/apps", headers=XML)

    assert result.status_code == 200
    assert result.headers["Content-Type"] == "application/xml"
    root = ET.fromstring(result.content)
    assert root.tag == "applications"
    assert root.findtext("apps__hashcode") == "UP_1_"
    assert root.findtext("application/name") == "ORDERS"
    assert root.findtext("application/instance/instanceId") == ID1


def test_delta_lists_recent_changes_with_their_action(
    client: falcon.testing.TestClient, base: str
) -> None:
    register(client, 1)
    register(client, 2)
    client.simulate_delete(f"{base}/apps/ORDERS/{instance_id(2)}")

    result = client.simulate_get(f"{base}/apps/delta", headers=JSON)

    assert result.status_code == 200
    instances = {
        i["instanceId"]: i["actionType"]
        for app in json_of(result)["applications"]["application"]
        for i in app["instance"]
    }
    assert instances == {instance_id(1): "ADDED", instance_id(2): "DELETED"}
    # The hashcode is the full registry's, so the client can check its merge.
    assert json_of(result)["applications"]["apps__hashcode"] == "UP_1_"


def test_delta_after_an_index_lists_only_the_changes_since(
    client: falcon.testing.TestClient, base: str
) -> None:
    register(client, 1)
    seen = client.simulate_get(f"{base}/apps/delta", headers=JSON)
    index = seen.headers[INDEX_HEADER]
    register(client, 2)
    client.simulate_delete(f"{base}/apps/ORDERS/{instance_id(1)}")

    result = client.simulate_get(f"{base}/apps/delta", params={"index": index}, headers=JSON)

    assert result.status_code == 200
    instances = {
        i["instanceId"]: i["actionType"]
        for app in json_of(result)["applications"]["application"]
        for i in app["instance"]
    }
    # Instance 1's registration came before the index: the client holds it already.
    assert instances == {instance_id(2): "ADDED", instance_id(1): "DELETED"}
    assert json_of(result)["applications"]["apps__hashcode"] == "UP_1_"
    assert int(result.headers[INDEX_HEADER]) > int(index)
    # Nothing after the newest index (asked not to wait for one); an index this server never
    # gave out: the whole window.
    latest = result.headers[INDEX_HEADER]
    empty = client.simulate_get(
        f"{base}/apps/delta", params={"index": latest, "wait": "0s"}, headers=JSON
    )
    assert json_of(empty)["applications"]["application"] == []
    future = str(int(latest) + 100)
    window = client.simulate_get(f"{base}/apps/delta", params={"index": future}, headers=JSON)
    assert len(window.json["applications"]["application"][0]["instance"]) == 2


def test_delta_is_forbidden_when_disabled(create_app: AppFactory, base: str) -> None:
    client = falcon.testing.TestClient(
        create_app(Registry(config=RegistryConfig(delta_enabled=False)))
    )

    result = client.simulate_get(f"{base}/apps/delta", headers=JSON)

    assert result.status_code == 403
    assert "delta" in result.text


def test_application_by_name_in_any_case(client: falcon.testing.TestClient, base: str) -> None:
    register(client, 1)
    register(client, 2)

    result = client.simulate_get(f"{base}/apps/orders", headers=JSON)

    assert result.status_code == 200
    application = json_of(result)["application"]
    assert application["name"] == "ORDERS"
    assert sorted(i["instanceId"] for i in application["instance"]) == [
        instance_id(1),
        instance_id(2),
    ]


def test_application_in_xml(client: falcon.testing.TestClient, base: str) -> None:
    register(client)

    result = client.simulate_get(f"{base}/apps/ORDERS")

    assert result.status_code == 200
    root = ET.fromstring(result.content)
    assert root.tag == "application"
    assert root.findtext("instance/hostName") == "host1"


def test_unknown_application_is_404_with_a_reason(
    client: falcon.testing.TestClient, base: str
) -> None:
    result = client.simulate_get(f"{base}/apps/NOPE", headers=JSON)

    assert result.status_code == 404
    assert "NOPE" in result.text


@pytest.mark.parametrize("path_id", [ID1, ENCODED_ID1], ids=["raw", "percent-encoded"])
def test_instance_by_app_and_id(client: falcon.testing.TestClient, base: str, path_id: str) -> None:
    register(client)

    result = client.simulate_get(f"{base}/apps/ORDERS/{path_id}", headers=JSON)

    assert result.status_code == 200
    assert json_of(result)["instance"]["instanceId"] == ID1


def test_instance_in_xml(client: falcon.testing.TestClient, base: str) -> None:
    register(client)

    result = client.simulate_get(f"{base}/apps/ORDERS/{ENCODED_ID1}")

    root = ET.fromstring(result.content)
    assert root.tag == "instance"
    assert root.findtext("instanceId") == ID1


def test_unknown_instance_is_404_naming_it(client: falcon.testing.TestClient, base: str) -> None:
    register(client)

    result = client.simulate_get(f"{base}/apps/ORDERS/host9:orders:8080", headers=JSON)

    assert result.status_code == 404
    assert "host9:orders:8080" in result.text


@pytest.mark.parametrize("path_id", [ID1, ENCODED_ID1], ids=["raw", "percent-encoded"])
def test_instance_by_id_alone(client: falcon.testing.TestClient, base: str, path_id: str) -> None:
    register(client, app="BILLING", instanceId=ID1)

    result = client.simulate_get(f"{base}/instances/{path_id}", headers=JSON)

    assert result.status_code == 200
    assert json_of(result)["instance"]["app"] == "BILLING"
    assert client.simulate_get(f"{base}/instances/nope").status_code == 404


@pytest.mark.parametrize(("kind", "name"), [("vips", "orders"), ("svips", "orders-secure")])
def test_vip_lookup(client: falcon.testing.TestClient, base: str, kind: str, name: str) -> None:
    register(client, 1)
    register(client, 2, vipAddress="other,orders", secureVipAddress="orders-secure")
    register(client, 1, app="BILLING")

    result = client.simulate_get(f"{base}/{kind}/{name}", headers=JSON)

    assert result.status_code == 200
    payload = json_of(result)
    assert payload["applications"]["versions__delta"] == "-1"
    assert instance_ids(payload) == [instance_id(1), instance_id(2)]


def test_unknown_vip_is_an_empty_list_not_a_404(
    client: falcon.testing.TestClient, base: str
) -> None:
    register(client)

    for kind in ("vips", "svips"):
        result = client.simulate_get(f"{base}/{kind}/nothing-here", headers=JSON)
        assert result.status_code == 200
        assert json_of(result)["applications"]["application"] == []
        assert json_of(result)["applications"]["versions__delta"] == "-1"


def test_vip_in_xml(client: falcon.testing.TestClient, base: str) -> None:
    register(client)

    root = ET.fromstring(client.simulate_get(f"{base}/vips/orders").content)

    assert root.findtext("versions__delta") == "-1"
    assert root.findtext("application/instance/instanceId") == ID1


# -- heartbeat ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path_id", [ID1, ENCODED_ID1], ids=["raw", "percent-encoded"])
def test_heartbeat_answers_200_with_an_empty_typed_body(
    client: falcon.testing.TestClient,
    registry: Registry,
    clock: ManualClock,
    base: str,
    path_id: str,
) -> None:
    register(client)
    before = registry.renews_last_minute()

    result = client.simulate_put(
        f"{base}/apps/ORDERS/{path_id}",
        params={"status": "UP", "lastDirtyTimestamp": "1000"},
        headers=JSON,
    )

    assert result.status_code == 200
    assert result.content == b""
    assert result.headers["Content-Type"] == "application/json"
    clock.advance(seconds=60)
    assert registry.renews_last_minute() == before + 1


def test_heartbeat_ignores_the_status_parameter(
    client: falcon.testing.TestClient, registry: Registry, base: str
) -> None:
    register(client)

    result = client.simulate_put(f"{base}/apps/ORDERS/{ID1}", params={"status": "DOWN"})

    assert result.status_code == 200
    stored = registry.get_instance("ORDERS", ID1)
    assert stored is not None
    assert stored.status is InstanceStatus.UP


def test_heartbeat_for_an_unknown_instance_is_404(
    client: falcon.testing.TestClient, base: str
) -> None:
    result = client.simulate_put(f"{base}/apps/ORDERS/{ID1}")

    assert result.status_code == 404
    assert "register" in result.text


def test_heartbeat_with_a_newer_timestamp_than_stored_is_404(
    client: falcon.testing.TestClient, base: str
) -> None:
    register(client)  # lastDirtyTimestamp 1000

    result = client.simulate_put(f"{base}/apps/ORDERS/{ID1}", params={"lastDirtyTimestamp": "2000"})

    assert result.status_code == 404


def test_heartbeat_after_the_override_was_deleted_is_404(
    client: falcon.testing.TestClient, base: str
) -> None:
    register(client)
    client.simulate_put(f"{base}/apps/ORDERS/{ID1}/status", params={"value": "OUT_OF_SERVICE"})
    client.simulate_delete(f"{base}/apps/ORDERS/{ID1}/status")  # status becomes UNKNOWN

    assert client.simulate_put(f"{base}/apps/ORDERS/{ID1}").status_code == 404


def test_replicated_heartbeat_with_an_older_timestamp_is_409_with_the_stored_instance(
    client: falcon.testing.TestClient, base: str
) -> None:
    register(client)  # lastDirtyTimestamp 1000

    result = client.simulate_put(
        f"{base}/apps/ORDERS/{ENCODED_ID1}",
        params={"lastDirtyTimestamp": "500", "status": "UP"},
        headers={**JSON, **REPLICATION},
    )

    assert result.status_code == 409
    body = json_of(result)["instance"]
    assert body["instanceId"] == ID1
    assert body["lastDirtyTimestamp"] == "1000"


def test_replicated_conflict_body_follows_the_negotiated_format(
    client: falcon.testing.TestClient, base: str
) -> None:
    register(client)

    result = client.simulate_put(
        f"{base}/apps/ORDERS/{ID1}", params={"lastDirtyTimestamp": "500"}, headers=REPLICATION
    )

    assert result.status_code == 409
    assert result.headers["Content-Type"] == "application/xml"
    assert ET.fromstring(result.content).findtext("lastDirtyTimestamp") == "1000"


def test_client_heartbeat_with_an_older_timestamp_is_200(
    client: falcon.testing.TestClient, base: str
) -> None:
    register(client)

    result = client.simulate_put(f"{base}/apps/ORDERS/{ID1}", params={"lastDirtyTimestamp": "500"})

    assert result.status_code == 200


def test_replicated_heartbeat_carries_the_peers_override(
    client: falcon.testing.TestClient, registry: Registry, base: str
) -> None:
    register(client)

    result = client.simulate_put(
        f"{base}/apps/ORDERS/{ID1}",
        params={"overriddenstatus": "OUT_OF_SERVICE", "lastDirtyTimestamp": "1000"},
        headers=REPLICATION,
    )

    assert result.status_code == 200
    stored = registry.get_instance("ORDERS", ID1)
    assert stored is not None
    assert stored.status is InstanceStatus.OUT_OF_SERVICE


# -- status overrides, metadata, cancel -----------------------------------------------------------


def test_status_override_put_and_delete(
    client: falcon.testing.TestClient, registry: Registry, base: str
) -> None:
    register(client)

    put = client.simulate_put(
        f"{base}/apps/ORDERS/{ENCODED_ID1}/status",
        params={"value": "OUT_OF_SERVICE", "lastDirtyTimestamp": "1000"},
        headers=JSON,
    )
    assert put.status_code == 200
    assert put.headers["Content-Type"] == "application/json"
    got = json_of(client.simulate_get(f"{base}/apps/ORDERS/{ID1}", headers=JSON))["instance"]
    assert (got["status"], got["overriddenStatus"]) == ("OUT_OF_SERVICE", "OUT_OF_SERVICE")

    deleted = client.simulate_delete(f"{base}/apps/ORDERS/{ID1}/status", params={"value": "UP"})
    assert deleted.status_code == 200
    got = json_of(client.simulate_get(f"{base}/apps/ORDERS/{ID1}", headers=JSON))["instance"]
    assert (got["status"], got["overriddenStatus"]) == ("UP", "UNKNOWN")


def test_status_value_is_read_in_any_case(
    client: falcon.testing.TestClient, registry: Registry, base: str
) -> None:
    register(client)

    client.simulate_put(f"{base}/apps/ORDERS/{ID1}/status", params={"value": "down"})

    stored = registry.get_instance("ORDERS", ID1)
    assert stored is not None
    assert stored.status is InstanceStatus.DOWN


def test_deleting_an_override_without_a_value_leaves_unknown(
    client: falcon.testing.TestClient, registry: Registry, base: str
) -> None:
    register(client)
    client.simulate_put(f"{base}/apps/ORDERS/{ID1}/status", params={"value": "OUT_OF_SERVICE"})

    assert client.simulate_delete(f"{base}/apps/ORDERS/{ID1}/status").status_code == 200

    stored = registry.get_instance("ORDERS", ID1)
    assert stored is not None
    assert stored.status is InstanceStatus.UNKNOWN


def test_status_endpoints_404_for_unknown_instances(
    client: falcon.testing.TestClient, base: str
) -> None:
    path = f"{base}/apps/ORDERS/{ID1}/status"

    assert client.simulate_put(path, params={"value": "UP"}).status_code == 404
    assert client.simulate_delete(path).status_code == 404


def test_metadata_is_merged(
    client: falcon.testing.TestClient, registry: Registry, base: str
) -> None:
    register(client, metadata={"zone": "a", "keep": "me"})

    result = client.simulate_put(
        f"{base}/apps/ORDERS/{ENCODED_ID1}/metadata", query_string="zone=b&weight=10"
    )

    assert result.status_code == 200
    stored = registry.get_instance("ORDERS", ID1)
    assert stored is not None
    assert dict(stored.metadata) == {"zone": "b", "keep": "me", "weight": "10"}


def test_metadata_of_an_unknown_instance_is_404(
    client: falcon.testing.TestClient, base: str
) -> None:
    result = client.simulate_put(f"{base}/apps/ORDERS/{ID1}/metadata", query_string="a=b")

    assert result.status_code == 404


@pytest.mark.parametrize("path_id", [ID1, ENCODED_ID1], ids=["raw", "percent-encoded"])
def test_cancel_removes_the_instance(
    client: falcon.testing.TestClient, base: str, path_id: str
) -> None:
    register(client)

    result = client.simulate_delete(f"{base}/apps/ORDERS/{path_id}", headers=JSON)

    assert result.status_code == 200
    assert result.headers["Content-Type"] == "application/json"
    assert client.simulate_get(f"{base}/apps/ORDERS/{ID1}").status_code == 404
    assert client.simulate_delete(f"{base}/apps/ORDERS/{path_id}").status_code == 404


# -- server status -----------------------------------------------------------------------------


def test_server_status_in_json(
    create_app: AppFactory, registry: Registry, clock: ManualClock, base: str
) -> None:
    peers = [{"url": "http://peer-1:8761/eureka/", "status": "UP"}]
    client = falcon.testing.TestClient(create_app(registry, peers_status=lambda: peers))
    register(client, 1)
    register(client, 2)
    client.simulate_put(f"{base}/apps/ORDERS/{instance_id(2)}/status", params={"value": "DOWN"})
    clock.advance(seconds=125)

    result = client.simulate_get(f"{base}/status", headers=JSON)

    assert result.status_code == 200
    status = json_of(result)["status"]
    assert status["uptime"] == "00:02:05"
    assert status["uptimeMs"] == 125_000
    assert status["instancesByStatus"]["UP"] == 1
    assert status["instancesByStatus"]["DOWN"] == 1
    assert status["instances"] == 2
    assert status["applications"] == 1
    assert status["peers"] == peers
    assert status["renewsThreshold"] == registry.renewal_threshold()
    assert status["renewsLastMinute"] == 0
    assert status["leaseExpirationEnabled"] is True
    assert status["selfPreservationActive"] is False


def test_server_status_in_xml(client: falcon.testing.TestClient, base: str) -> None:
    register(client)

    root = ET.fromstring(client.simulate_get(f"{base}/status").content)

    assert root.tag == "status"
    assert root.findtext("instancesByStatus/UP") == "1"
    assert root.findtext("selfPreservationActive") == "false"


def test_a_failing_peers_callback_does_not_break_the_status(
    create_app: AppFactory, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> list[dict[str, object]]:
        raise RuntimeError("peer table locked")

    client = falcon.testing.TestClient(create_app(registry, peers_status=broken))

    result = client.simulate_get("/eureka/status", headers=JSON)

    assert result.status_code == 200
    assert json_of(result)["status"]["peers"] == []
    assert "peersError" in json_of(result)["status"]
    assert "peer table locked" in caplog.text


def test_peer_replication_batch_is_served(client: falcon.testing.TestClient, base: str) -> None:
    # Its behaviour is tested in tests/replication; here only that the route exists.
    result = client.simulate_post(f"{base}/peerreplication/batch/", body=b'{"replicationList": []}')

    assert result.status_code == 200
    assert result.json == {"responseList": []}


def test_unchanged_statuses_of_other_instances_after_writes(
    client: falcon.testing.TestClient, base: str
) -> None:
    register(client, 1)
    register(client, 2)
    client.simulate_put(f"{base}/apps/ORDERS/{instance_id(1)}/status", params={"value": "DOWN"})

    payload = json_of(client.simulate_get(f"{base}/apps", headers=JSON))

    assert statuses(payload) == {instance_id(1): "DOWN", instance_id(2): "UP"}
