"""Reads of many instances at once: the collector held off while they are built, values shared,
and reuse between fetches that never hands back an instance whose object changed."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any
from unittest import mock

import orjson
import pytest

from eureka_embed.codec import (
    DecodedInstances,
    WireFormat,
    decode_applications,
    encode_applications,
    instance_to_dict,
    readers,
)
from eureka_embed.codec.bulk import collection_paused, shared_port
from eureka_embed.errors import DecodeError
from eureka_embed.model import (
    ActionType,
    Applications,
    DataCenterInfo,
    InstanceInfo,
    LeaseInfo,
    PortInfo,
)

pytestmark = pytest.mark.usefixtures("collection_on")


def test_collection_is_off_inside_and_back_on_after() -> None:
    with collection_paused():
        assert not gc.isenabled()
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # an inner block does not end the outer one's pause
    assert gc.isenabled()


def test_collection_comes_back_on_after_an_error() -> None:
    with pytest.raises(ValueError), collection_paused():
        raise ValueError("bad payload")
    assert gc.isenabled()


def test_a_process_that_keeps_collection_off_keeps_it_off() -> None:
    gc.disable()
    with collection_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_reads_in_two_threads_restore_collection_when_the_last_ends() -> None:
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def second() -> None:
        first_in.wait()
        with collection_paused():
            second_in.set()
            first_out.wait()
            seen.append(gc.isenabled())  # the first read ended, this one has not

    thread = threading.Thread(target=second)
    thread.start()
    with collection_paused():
        first_in.set()
        second_in.wait()
    first_out.set()
    thread.join()
    assert seen == [False]
    assert gc.isenabled()


def _registry(count: int, app: str = "ORDERS") -> Applications:
    return Applications.of(
        InstanceInfo(
            f"h{n}",
            app,
            f"h{n}",
            f"10.0.0.{n}",
            port=PortInfo(8080, True),
            vip_address="orders",
            last_dirty_timestamp=n,
        )
        for n in range(count)
    )


@pytest.mark.parametrize("fmt", list(WireFormat))
def test_a_registry_is_read_with_collection_off(fmt: WireFormat) -> None:
    states: list[bool] = []
    real = readers.read_instance

    def spy(*args: Any, **kwargs: Any) -> InstanceInfo:
        states.append(gc.isenabled())
        return real(*args, **kwargs)

    body = encode_applications(_registry(3), fmt)
    with mock.patch.object(readers, "read_instance", spy):
        decode_applications(body, fmt)
    assert states == [False, False, False]
    assert gc.isenabled()


def test_instances_read_together_share_their_repeated_values() -> None:
    body = encode_applications(_registry(2), WireFormat.JSON)
    one, two = decode_applications(body, WireFormat.JSON).applications[0].instances
    assert one.port is two.port
    assert one.app is two.app and one.vip_address is two.vip_address
    assert shared_port(8080, True) is one.port == PortInfo(8080, True)
    assert shared_port(8080, False) == PortInfo(8080, False) != one.port


# -- reuse between fetches: any change of any field is read -----------------------------------

_RICH = InstanceInfo(
    "i-1",
    "ORDERS",
    "h1",
    "10.0.0.1",
    data_center_info=DataCenterInfo("Amazon", {"instance-id": "i-1", "zone": "a"}),
    lease_info=LeaseInfo(30, 90, 1, 2, 3, 4),
    metadata={"zone": "a", "weight": "3"},
    app_group_name="G",
    home_page_url="http://h1/",
    status_page_url="http://h1/info",
    health_check_url="http://h1/health",
    secure_health_check_url="https://h1/health",
    vip_address="orders",
    secure_vip_address="orders-s",
    asg_name="asg",
    last_updated_timestamp=5,
    last_dirty_timestamp=6,
    action_type=ActionType.ADDED,
)
_OTHER_TEXT = {
    "status": "DOWN",
    "overriddenStatus": "UP",
    "actionType": "MODIFIED",
    "name": "MyOwn",
}


def _leaves(tree: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*path, key))
        else:
            yield (*path, key)


def _changed(value: object, key: str) -> object:
    if value in ("true", "false"):
        return "false" if value == "true" else "true"
    if isinstance(value, str) and value.isdigit():  # timestamps are written as strings
        return str(int(value) + 1)
    if key in _OTHER_TEXT:
        return _OTHER_TEXT[key]
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    assert isinstance(value, str), key
    return value + "x"


_TREE = orjson.loads(orjson.dumps(instance_to_dict(_RICH)))
_PATHS = [p for p in _leaves(_TREE) if p[-1] != "@class"]  # the name decides


def _registry_body(instance: dict[str, Any]) -> bytes:
    app = {"name": "ORDERS", "instance": [instance]}
    return orjson.dumps({"applications": {"apps__hashcode": "UP_1_", "application": [app]}})


def test_every_field_path_of_the_rich_instance_is_covered() -> None:
    assert len(_PATHS) >= 35  # 25 fields, the nested ones by part


@pytest.mark.parametrize("path", _PATHS, ids=".".join)
def test_a_change_of_any_one_field_is_read_not_reused(path: tuple[str, ...]) -> None:
    memo = DecodedInstances()
    before = decode_applications(_registry_body(_TREE), WireFormat.JSON, reuse=memo)
    tree = orjson.loads(orjson.dumps(_TREE))
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = _changed(node[path[-1]], path[-1])
    body = _registry_body(tree)
    after = decode_applications(body, WireFormat.JSON, reuse=memo)
    assert memo.reused == 0
    assert after == decode_applications(body, WireFormat.JSON)
    assert after.applications[0].instances[0] != before.applications[0].instances[0]


def test_renewed_leases_are_read_and_the_rest_of_each_instance_is_reused() -> None:
    registry = _registry(4)
    memo = DecodedInstances()
    first = decode_applications(
        encode_applications(registry, WireFormat.JSON), WireFormat.JSON, reuse=memo
    )
    renewed = Applications.of(
        i.evolve(lease_info=i.lease_info.evolve(last_renewal_timestamp=n + 1))
        for n, i in enumerate(registry.instances())
        if n != 3
    )
    body = encode_applications(
        Applications.of([*renewed.instances(), *list(registry.instances())[3:]]), WireFormat.JSON
    )
    second = decode_applications(body, WireFormat.JSON, reuse=memo)
    assert second == decode_applications(body, WireFormat.JSON)
    assert (memo.reused, memo.relet) == (1, 3)
    old, new = first.applications[0].instances, second.applications[0].instances
    assert [i.lease_info.last_renewal_timestamp for i in new] == [1, 2, 3, 0]
    assert new[3] is old[3] and new[0] is not old[0]
    assert new[1].metadata is old[1].metadata  # the rest of the instance is the last read's


def test_a_lease_that_is_not_plain_is_read_the_general_way_with_its_reason() -> None:
    memo = DecodedInstances()
    decode_applications(_registry_body(_TREE), WireFormat.JSON, reuse=memo)
    bad = {**_TREE, "leaseInfo": {**_TREE["leaseInfo"], "durationInSecs": "ninety"}}
    with pytest.raises(DecodeError, match=r"leaseInfo\.durationInSecs"):
        decode_applications(_registry_body(bad), WireFormat.JSON, reuse=memo)
    lenient = {**_TREE, "leaseInfo": {**_TREE["leaseInfo"], "durationInSecs": 90.0}}
    read = decode_applications(_registry_body(lenient), WireFormat.JSON, reuse=memo)
    assert read == decode_applications(_registry_body(lenient), WireFormat.JSON)
    assert read.applications[0].instances[0].lease_info.duration_secs == 90
