"""``POST peerreplication/batch/``: each item applied as a replicated write, one result each."""

from __future__ import annotations

from typing import Any

import falcon.testing
import orjson
import pytest

from eureka_embed.events import RegistryEvent, WriteAction
from eureka_embed.model import InstanceStatus
from eureka_embed.registry import Registry
from eureka_embed.replication.wire import ReplicationItem
from tests.replication.helpers import instance

ONE = instance(1, ldt=1_000)
ID = ONE.instance_id


def post(
    client: falcon.testing.TestClient,
    items: list[Any] | bytes,
    path: str = "/eureka/peerreplication/batch/",
    **headers: str,
) -> falcon.testing.Result:
    body = items if isinstance(items, bytes) else orjson.dumps({"replicationList": items})
    return client.simulate_post(
        path, body=body, headers={"Content-Type": "application/json", **headers}
    )


def codes(result: falcon.testing.Result) -> list[int]:
    assert result.status_code == 200, result.text
    return [r["statusCode"] for r in result.json["responseList"]]


def heartbeat(ldt: int = 1_000, **fields: Any) -> dict[str, Any]:
    return {
        "appName": "ORDERS",
        "id": ID,
        "lastDirtyTimestamp": ldt,
        "action": "Heartbeat",
        **fields,
    }


@pytest.mark.parametrize(
    "path",
    [
        "/eureka/peerreplication/batch/",
        "/eureka/peerreplication/batch",
        "/eureka/v2/peerreplication/batch/",
        "/eureka/v2/peerreplication/batch",
    ],
)
def test_the_batch_is_served_under_both_bases_with_and_without_the_slash(
    client: falcon.testing.TestClient, registry: Registry, path: str
) -> None:
    result = post(client, [ReplicationItem.register(ONE).to_dict()], path)

    assert codes(result) == [200]
    assert result.headers["content-type"].startswith("application/json")
    assert registry.get_instance("ORDERS", ID) is not None


def test_every_action_applies_as_a_replicated_write_in_order(
    client: falcon.testing.TestClient, registry: Registry
) -> None:
    seen: list[RegistryEvent] = []
    registry.add_listener(seen.append)
    register = ReplicationItem.register(ONE).to_dict()
    status = {"appName": "ORDERS", "id": ID, "status": "OUT_OF_SERVICE", "action": "StatusUpdate"}
    delete = {"appName": "ORDERS", "id": ID, "status": "UP", "action": "DeleteStatusOverride"}
    cancel = {"appName": "ORDERS", "id": ID, "action": "Cancel"}

    assert codes(post(client, [register, heartbeat(), status])) == [200, 200, 200]
    stored = registry.get_instance("ORDERS", ID)
    assert stored is not None and stored.status is InstanceStatus.OUT_OF_SERVICE
    assert codes(post(client, [delete])) == [200]
    stored = registry.get_instance("ORDERS", ID)
    assert stored is not None and stored.status is InstanceStatus.UP
    assert codes(post(client, [cancel])) == [200]
    assert registry.get_instance("ORDERS", ID) is None

    assert [e.action for e in seen] == [
        WriteAction.REGISTER,
        WriteAction.HEARTBEAT,
        WriteAction.STATUS_UPDATE,
        WriteAction.DELETE_STATUS_OVERRIDE,
        WriteAction.CANCEL,
    ]
    assert all(e.replication for e in seen)  # so none of them is forwarded again


def test_a_register_then_a_cancel_in_one_batch_leave_no_instance(
    client: falcon.testing.TestClient, registry: Registry
) -> None:
    cancel = {"appName": "ORDERS", "id": ID, "action": "Cancel"}

    assert codes(post(client, [cancel, ReplicationItem.register(ONE).to_dict(), cancel])) == [
        404,
        200,
        200,
    ]
    assert registry.get_instance("ORDERS", ID) is None


def test_a_heartbeat_for_an_unknown_instance_is_404(client: falcon.testing.TestClient) -> None:
    assert codes(post(client, [heartbeat()])) == [404]


def test_a_heartbeat_newer_than_the_stored_instance_is_404_so_the_peer_registers(
    client: falcon.testing.TestClient, registry: Registry
) -> None:
    registry.register(ONE)

    assert codes(post(client, [heartbeat(ldt=2_000)])) == [404]


def test_a_heartbeat_older_than_the_stored_instance_is_409_with_the_newer_instance(
    client: falcon.testing.TestClient, registry: Registry
) -> None:
    registry.register(instance(1, ldt=5_000, port=8080).evolve(metadata={"v": "new"}))

    result = post(client, [heartbeat(ldt=1_000)])

    (answer,) = result.json["responseList"]
    assert answer["statusCode"] == 409
    entity = answer["responseEntity"]
    assert entity["instanceId"] == ID
    assert entity["lastDirtyTimestamp"] == "5000"
    assert entity["metadata"] == {"v": "new"}


def test_a_replicated_heartbeat_carries_the_override_over(
    client: falcon.testing.TestClient, registry: Registry
) -> None:
    registry.register(ONE)

    assert codes(post(client, [heartbeat(overriddenStatus="OUT_OF_SERVICE")])) == [200]
    stored = registry.get_instance("ORDERS", ID)
    assert stored is not None and stored.status is InstanceStatus.OUT_OF_SERVICE


def test_a_replicated_register_keeps_a_newer_stored_instance(
    client: falcon.testing.TestClient, registry: Registry
) -> None:
    registry.register(instance(1, ldt=5_000).evolve(metadata={"v": "newer"}))

    assert codes(post(client, [ReplicationItem.register(instance(1, ldt=1_000)).to_dict()])) == [
        200
    ]
    stored = registry.get_instance("ORDERS", ID)
    assert stored is not None and stored.metadata == {"v": "newer"}


def test_bad_items_get_their_own_status_and_never_fail_the_batch(
    client: falcon.testing.TestClient, registry: Registry
) -> None:
    register = ReplicationItem.register(ONE).to_dict()
    bad_instance = {**register, "instanceInfo": {**register["instanceInfo"], "hostName": None}}
    items = [
        {"appName": "ORDERS", "id": ID, "action": "Explode"},
        {"appName": "ORDERS", "action": "Cancel"},
        bad_instance,
        {"appName": "ORDERS", "id": "nobody", "action": "Cancel"},
        {"appName": "ORDERS", "id": "nobody", "status": "DOWN", "action": "StatusUpdate"},
        {"appName": "ORDERS", "id": ID, "action": "StatusUpdate"},  # no status
        register,
        42,
    ]

    assert codes(post(client, items)) == [400, 400, 400, 404, 404, 400, 200, 400]
    assert registry.get_instance("ORDERS", ID) is not None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "request body is empty"),
        (b"{not json", "not valid JSON"),
        (b'{"replicationList": 3}', '"replicationList" must be a list'),
        (b'{"something": []}', '"replicationList" list'),
    ],
)
def test_a_body_that_is_no_batch_is_a_400_with_the_reason(
    client: falcon.testing.TestClient, body: bytes, reason: str
) -> None:
    result = post(client, body)

    assert result.status_code == 400
    assert reason in result.text


def test_an_xml_batch_is_refused_as_unsupported(client: falcon.testing.TestClient) -> None:
    result = client.simulate_post(
        "/eureka/peerreplication/batch/",
        body=b"<replicationList/>",
        headers={"Content-Type": "application/xml"},
    )

    assert result.status_code == 415
    assert "replication batches are JSON" in result.text


def test_a_batch_above_the_body_limit_is_413(client: falcon.testing.TestClient) -> None:
    items = [ReplicationItem.register(instance(n)).to_dict() for n in range(200)]

    result = post(client, items)

    assert result.status_code == 413


def test_metrics_count_received_batches_and_items_by_action(
    client: falcon.testing.TestClient,
) -> None:
    post(client, [ReplicationItem.register(ONE).to_dict(), heartbeat(), {"action": "?"}])

    metrics = client.simulate_get("/metrics").text
    assert "eureka_replication_received_batches_total 1.0" in metrics
    assert 'eureka_replication_received_items_total{action="Register"} 1.0' in metrics
    assert 'eureka_replication_received_items_total{action="Heartbeat"} 1.0' in metrics
    assert 'eureka_replication_received_items_total{action="invalid"} 1.0' in metrics
    assert 'eureka_replication_received_items_total{action="Cancel"} 0.0' in metrics
