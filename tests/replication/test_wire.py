"""The batch wire format: what goes to a peer, what comes back, and what a peer may send."""

from __future__ import annotations

import orjson
import pytest

from eureka_embed.errors import DecodeError
from eureka_embed.events import RegistryEvent, WriteAction
from eureka_embed.model import InstanceStatus
from eureka_embed.replication.wire import (
    InvalidItem,
    ItemResult,
    ReplicationItem,
    decode_batch,
    decode_results,
    encode_batch,
    encode_results,
)
from tests.replication.helpers import instance

NOW = 1_700_000_000_000


def test_a_register_carries_the_unwrapped_instance_and_nulls_are_omitted() -> None:
    one = instance(1, ldt=1712957014863)
    body = encode_batch(
        [ReplicationItem.register(one), ReplicationItem(WriteAction.CANCEL, "ORDERS", "i2")]
    )

    items = orjson.loads(body)["replicationList"]
    assert items[0]["action"] == "Register"
    assert items[0]["appName"] == "ORDERS"
    assert items[0]["id"] == one.instance_id
    assert items[0]["lastDirtyTimestamp"] == 1712957014863
    assert items[0]["status"] == "UP"
    assert "overriddenStatus" not in items[0]  # UNKNOWN means none, and none is omitted
    info = items[0]["instanceInfo"]
    assert "instance" not in info
    assert info["instanceId"] == one.instance_id
    assert info["port"] == {"$": 7001, "@enabled": "true"}
    assert items[1] == {"appName": "ORDERS", "id": "i2", "action": "Cancel"}


def test_only_a_register_carries_the_instance() -> None:
    item = ReplicationItem(WriteAction.HEARTBEAT, "ORDERS", "i1", 5, instance=instance(1))

    assert "instanceInfo" not in item.to_dict()


def event(action: WriteAction, **kw: object) -> RegistryEvent:
    stored = instance(1, ldt=42, status=InstanceStatus.OUT_OF_SERVICE).evolve(
        overridden_status=InstanceStatus.OUT_OF_SERVICE
    )
    return RegistryEvent(action, "ORDERS", stored.instance_id, stored, False, **kw)  # type: ignore[arg-type]


def test_items_are_built_from_registry_events_as_eureka_fills_them_in() -> None:
    heartbeat = ReplicationItem.from_event(event(WriteAction.HEARTBEAT))
    status = ReplicationItem.from_event(
        event(WriteAction.STATUS_UPDATE, status=InstanceStatus.OUT_OF_SERVICE)
    )
    delete = ReplicationItem.from_event(
        event(WriteAction.DELETE_STATUS_OVERRIDE, status=InstanceStatus.UNKNOWN)
    )
    cancel = ReplicationItem.from_event(event(WriteAction.CANCEL))
    register = ReplicationItem.from_event(event(WriteAction.REGISTER))

    assert heartbeat.to_dict() == {
        "appName": "ORDERS",
        "id": "host1:orders:8080",
        "lastDirtyTimestamp": 42,
        "status": "OUT_OF_SERVICE",
        "overriddenStatus": "OUT_OF_SERVICE",
        "action": "Heartbeat",
    }
    assert (status.status, status.overridden_status) == (InstanceStatus.OUT_OF_SERVICE, None)
    assert (delete.status, delete.last_dirty_timestamp) == (InstanceStatus.UNKNOWN, 42)
    assert cancel.to_dict() == {"appName": "ORDERS", "id": "host1:orders:8080", "action": "Cancel"}
    assert register.instance is not None and register.overridden_status is not None


def test_a_batch_decodes_back_to_the_same_items() -> None:
    items = [
        ReplicationItem.register(instance(1, ldt=7)),
        ReplicationItem(WriteAction.HEARTBEAT, "ORDERS", "i1", 7, InstanceStatus.UP),
        ReplicationItem(WriteAction.STATUS_UPDATE, "ORDERS", "i1", 8, InstanceStatus.DOWN),
    ]

    decoded = decode_batch(encode_batch(items), now_ms=NOW)

    assert [type(d) for d in decoded] == [ReplicationItem] * 3
    assert decoded[1:] == items[1:]
    first = decoded[0]
    assert isinstance(first, ReplicationItem) and first.instance is not None
    assert first.instance.instance_id == "host1:orders:8080"
    assert first.instance.last_dirty_timestamp == 7


def test_decoding_is_lenient_where_peers_differ() -> None:
    body = orjson.dumps(
        {
            "replicationList": [
                {
                    "appName": "orders",
                    "id": "i1",
                    "lastDirtyTimestamp": "1712957014863",
                    "status": "up",
                    "overriddenStatus": None,
                    "action": "heartbeat",
                    "someFutureField": 1,
                }
            ]
        }
    )

    (item,) = decode_batch(body, now_ms=NOW)

    assert item == ReplicationItem(
        WriteAction.HEARTBEAT, "ORDERS", "i1", 1712957014863, InstanceStatus.UP
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not an object", "must be an object"),
        ({"appName": "A", "id": "i"}, "action is missing"),
        ({"appName": "A", "id": "i", "action": "Explode"}, "is not one of Register"),
        ({"appName": "A", "action": "Cancel"}, ".id is missing"),
        ({"id": "i", "action": "Cancel"}, ".appName is missing"),
        ({"appName": "A", "id": "i", "action": "Register"}, "instanceInfo is missing"),
        (
            {"appName": "A", "id": "i", "action": "Register", "instanceInfo": {"app": "A"}},
            "instanceId",
        ),
        (
            {"appName": "A", "id": "i", "lastDirtyTimestamp": "soon", "action": "Heartbeat"},
            "lastDirtyTimestamp must be an integer",
        ),
        (
            {"appName": "A", "id": "i", "status": "SLEEPY", "action": "StatusUpdate"},
            "status has unknown value",
        ),
    ],
)
def test_an_unreadable_item_is_invalid_on_its_own(raw: object, reason: str) -> None:
    good = {"appName": "A", "id": "ok", "action": "Cancel"}
    body = orjson.dumps({"replicationList": [good, raw, good]})

    decoded = decode_batch(body, now_ms=NOW)

    assert isinstance(decoded[0], ReplicationItem)
    assert isinstance(decoded[2], ReplicationItem)
    bad = decoded[1]
    assert isinstance(bad, InvalidItem)
    assert reason in bad.reason
    assert "replicationList[1]" in bad.reason or "must be an object" in bad.reason


def test_a_register_whose_instance_names_another_app_is_invalid() -> None:
    item = ReplicationItem.register(instance(1)).to_dict()
    item["appName"] = "PAYMENTS"

    (decoded,) = decode_batch(orjson.dumps({"replicationList": [item]}), now_ms=NOW)

    assert isinstance(decoded, InvalidItem)
    assert "does not match appName PAYMENTS" in decoded.reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{", "not valid JSON"),
        (b"[]", '"replicationList" list'),
        (b"{}", "it has none"),
        (b'{"replicationList": {"a": 1}}', "must be a list"),
    ],
)
def test_a_body_that_is_no_batch_is_refused_as_a_whole(body: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_batch(body, now_ms=NOW)


def test_results_carry_the_conflicting_instance_and_read_back() -> None:
    body = encode_results([ItemResult(200), ItemResult(409, instance(3, ldt=99)), ItemResult(404)])

    assert orjson.loads(body)["responseList"][0] == {"statusCode": 200}
    results = decode_results(body, now_ms=NOW)
    assert [r.status_code for r in results] == [200, 409, 404]
    assert results[1].entity is not None
    assert results[1].entity.last_dirty_timestamp == 99


def test_an_unreadable_conflict_entity_keeps_its_status() -> None:
    body = b'{"responseList":[{"statusCode":409,"responseEntity":{"port":"x"}}]}'

    (result,) = decode_results(body, now_ms=NOW)

    assert (result.status_code, result.entity) == (409, None)


def test_results_without_status_codes_are_refused() -> None:
    with pytest.raises(DecodeError, match="statusCode is missing"):
        decode_results(b'{"responseList":[{}]}', now_ms=NOW)
