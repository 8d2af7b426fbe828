"""Edges of the batch wire format a peer can hit (found by mutation testing).

What a receiving node logs and answers for a bad item (its reason names where the problem is,
and which action it was), the forms and limits of the fields it accepts, and how a sender reads
a peer's answer.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from eureka_embed.codec import instance_to_dict
from eureka_embed.errors import DecodeError
from eureka_embed.events import WriteAction
from eureka_embed.registry import Registry
from eureka_embed.replication.receiver import ReplicationReceiver
from eureka_embed.replication.wire import InvalidItem, ReplicationItem, decode_batch, decode_results
from tests.replication.helpers import instance

NOW = 1_700_000_000_000
ONE = instance(1)


def decode_one(item: dict[str, Any]) -> ReplicationItem | InvalidItem:
    [decoded] = decode_batch(orjson.dumps({"replicationList": [item]}), now_ms=NOW)
    return decoded


def invalid(item: dict[str, Any]) -> InvalidItem:
    decoded = decode_one(item)
    assert isinstance(decoded, InvalidItem), decoded
    return decoded


def register_item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "appName": "ORDERS",
        "id": ONE.instance_id,
        "action": "Register",
        "instanceInfo": instance_to_dict(ONE),
    }
    item.update(changes)
    return {k: v for k, v in item.items() if v is not None}


def test_an_item_whose_action_is_unreadable_names_no_action() -> None:
    bad = invalid({"appName": "ORDERS", "id": "i1", "action": {"name": "Register"}})
    assert bad.action is None
    assert "replicationList[0].action" in bad.reason


@pytest.mark.parametrize("field", ["appName", "id"])
def test_an_unreadable_name_field_is_named_with_its_path(field: str) -> None:
    item = {"appName": "ORDERS", "id": "i1", "action": "Heartbeat", field: {"x": 1}}
    bad = invalid(item)
    assert f"replicationList[0].{field}" in bad.reason
    assert bad.action is WriteAction.HEARTBEAT


def test_an_unreadable_override_is_named_with_its_path() -> None:
    bad = invalid({"appName": "ORDERS", "id": "i1", "action": "Heartbeat", "overriddenStatus": 7})
    assert "replicationList[0].overriddenStatus" in bad.reason
    assert bad.action is WriteAction.HEARTBEAT


def test_a_register_without_its_instance_is_refused_as_a_register() -> None:
    bad = invalid(register_item(instanceInfo=None))
    assert bad.action is WriteAction.REGISTER
    assert "instanceInfo is missing" in bad.reason


def test_a_register_under_another_app_name_is_refused_as_a_register() -> None:
    bad = invalid(register_item(appName="PAYMENTS"))
    assert bad.action is WriteAction.REGISTER
    assert "does not match appName" in bad.reason


def test_a_register_under_another_id_is_refused_as_a_register() -> None:
    bad = invalid(register_item(id="other:orders:8080"))
    assert bad.action is WriteAction.REGISTER
    assert "instanceId" in bad.reason
    assert "other:orders:8080" in bad.reason


def test_a_register_without_app_name_and_id_takes_them_from_its_instance() -> None:
    decoded = decode_one(register_item(appName=None, id=None))
    assert isinstance(decoded, ReplicationItem)
    assert (decoded.app, decoded.instance_id) == ("ORDERS", ONE.instance_id)


def test_a_register_in_the_wrapped_form_is_accepted() -> None:
    decoded = decode_one(register_item(instanceInfo={"instance": instance_to_dict(ONE)}))
    assert isinstance(decoded, ReplicationItem)
    assert decoded.instance is not None
    assert decoded.instance.host_name == ONE.host_name


def test_an_unreadable_registered_instance_is_refused_with_its_path() -> None:
    info = instance_to_dict(ONE)
    info["port"] = {"$": "eighty"}
    bad = invalid(register_item(instanceInfo=info))
    assert bad.action is WriteAction.REGISTER
    assert "replicationList[0].instanceInfo" in bad.reason


def test_a_replicated_registration_without_a_data_center_is_refused_by_the_rules() -> None:
    # The peer's instance is read as a registration: nothing is filled in for the register
    # rules to accept, so it is refused here as it would be from a client.
    info = instance_to_dict(ONE)
    info.pop("dataCenterInfo")
    registry = Registry()
    receiver = ReplicationReceiver(registry)
    answer = orjson.loads(
        receiver.handle(orjson.dumps({"replicationList": [register_item(instanceInfo=info)]}))
    )
    assert [r["statusCode"] for r in answer["responseList"]] == [400]
    assert registry.get_instance("ORDERS", ONE.instance_id) is None


def test_a_registered_instance_without_timestamps_is_stamped_with_the_receive_time() -> None:
    info = instance_to_dict(ONE)
    info.pop("lastDirtyTimestamp", None)
    info.pop("lastUpdatedTimestamp", None)
    decoded = decode_one(register_item(instanceInfo=info))
    assert isinstance(decoded, ReplicationItem)
    assert decoded.instance is not None
    assert decoded.instance.last_dirty_timestamp == NOW


@pytest.mark.parametrize(("field", "value"), [("appName", " "), ("id", " ")])
def test_a_blank_name_field_is_refused_with_its_action(field: str, value: str) -> None:
    bad = invalid({"appName": "ORDERS", "id": "i1", "action": "Cancel", field: value})
    assert bad.action is WriteAction.CANCEL
    assert f"{field} is missing" in bad.reason


def test_a_dirty_timestamp_of_zero_is_accepted_and_a_negative_one_refused() -> None:
    zero = decode_one({"appName": "A", "id": "i1", "action": "Heartbeat", "lastDirtyTimestamp": 0})
    assert isinstance(zero, ReplicationItem)
    assert zero.last_dirty_timestamp == 0
    bad = invalid({"appName": "A", "id": "i1", "action": "Heartbeat", "lastDirtyTimestamp": -1})
    assert "lastDirtyTimestamp" in bad.reason
    assert bad.action is WriteAction.HEARTBEAT


def test_a_batch_list_of_the_wrong_type_says_which_type_it_got() -> None:
    with pytest.raises(DecodeError, match="got str"):
        decode_batch(b'{"replicationList": "x"}', now_ms=NOW)


# -- a peer's answer


def results_body(*items: object) -> bytes:
    return orjson.dumps({"responseList": list(items)})


@pytest.mark.parametrize("code", [100, 599])
def test_status_codes_from_100_to_599_are_read(code: int) -> None:
    [result] = decode_results(results_body({"statusCode": code}), now_ms=NOW)
    assert result.status_code == code
    assert result.entity is None


@pytest.mark.parametrize("code", [99, 600])
def test_a_status_code_outside_100_to_599_is_refused_with_its_path(code: int) -> None:
    with pytest.raises(DecodeError, match=r"responseList\[1\]\.statusCode"):
        decode_results(results_body({"statusCode": 200}, {"statusCode": code}), now_ms=NOW)


def test_a_result_that_is_not_an_object_is_refused_with_its_path() -> None:
    with pytest.raises(DecodeError, match=r"responseList\[0\] must be an object"):
        decode_results(results_body(5), now_ms=NOW)


def test_a_conflict_entity_is_adopted_leniently_and_stamped_with_the_receive_time() -> None:
    # A peer's newer instance is taken as the peer has it, even if it breaks a register rule.
    entity = instance_to_dict(ONE)
    entity["hostName"] = ""
    entity.pop("lastDirtyTimestamp", None)
    [result] = decode_results(
        results_body({"statusCode": 409, "responseEntity": entity}), now_ms=NOW
    )
    assert result.entity is not None
    assert result.entity.instance_id == ONE.instance_id
    assert result.entity.last_dirty_timestamp == NOW


def test_a_conflict_entity_without_a_data_center_is_adopted_as_a_default_one() -> None:
    # A server's answer is read as a server's payload, not as a registration: what it leaves
    # out is filled in, so the adopted copy can be registered locally.
    entity = instance_to_dict(ONE)
    entity.pop("dataCenterInfo")
    [result] = decode_results(
        results_body({"statusCode": 409, "responseEntity": entity}), now_ms=NOW
    )
    assert result.entity is not None
    assert result.entity.data_center_info.name == ONE.data_center_info.name
    Registry().register(result.entity, replication=True)
