"""The quick reader of plain instance objects, and reuse of unchanged instances between reads.

The quick path must read exactly what the general reader reads (every field equal), or step
aside; reuse must never hand back an instance whose object changed in any way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eureka_embed.codec import (
    DecodedInstances,
    WireFormat,
    decode_applications,
    encode_applications,
    instance_to_dict,
    readers,
)
from eureka_embed.errors import DecodeError
from eureka_embed.model import Application, Applications, InstanceInfo, InstanceStatus
from tests.codec import strategies
from tests.codec.test_fuzz import INSTANCE_KEYS, instance_dicts, json_values

NOW = 1_700_000_000_000
# Whole registries, two per example: drawing them is slow on a loaded machine, and that is fine.
big_inputs = settings(suppress_health_check=[HealthCheck.too_slow])
BODIES = [(fmt, compact) for fmt in WireFormat for compact in (False, True)]


@contextmanager
def general_reader_only() -> Iterator[None]:
    """Every instance read the general way: the reference the quick path must agree with."""
    with mock.patch.object(readers, "_read_plain_instance", return_value=None):
        yield


def general(tree: object) -> InstanceInfo:
    # Not a dict, so read_instance does not take the quick path.
    return readers.read_instance(
        MappingProxyType(tree),  # type: ignore[arg-type]
        "instance",
        now_ms=NOW,
        registration=False,
        default_app="DEFAULT",
    )


def plain(tree: dict[str, Any]) -> InstanceInfo | None:
    return readers._read_plain_instance(tree, NOW, "DEFAULT")


def _assert_same_as_general(tree: dict[str, Any]) -> None:
    quick = plain(tree)
    if quick is None:
        return
    assert quick == general(tree)
    assert type(quick.metadata) is MappingProxyType or not quick.metadata


@given(instance_dicts)
def test_the_quick_path_reads_any_instance_object_as_the_general_reader_does(
    tree: dict[str, Any],
) -> None:
    _assert_same_as_general(tree)


@given(strategies.instances(), st.sampled_from(INSTANCE_KEYS), json_values, st.booleans())
def test_the_quick_path_agrees_when_one_field_of_a_real_instance_is_anything(
    instance: InstanceInfo, key: str, value: object, compact: bool
) -> None:
    tree = orjson.loads(orjson.dumps(instance_to_dict(instance, compact=compact)))
    assert plain(tree) == general(tree)  # what servers write always takes the quick path
    tree[key] = value
    _assert_same_as_general(tree)


@given(strategies.instances(), st.sampled_from(["port", "leaseInfo", "dataCenterInfo"]))
def test_the_quick_path_agrees_on_nested_objects_with_odd_values(
    instance: InstanceInfo, key: str
) -> None:
    tree = orjson.loads(orjson.dumps(instance_to_dict(instance)))
    odd: object
    for odd in (True, 1.0, "1", " 7 ", "-3", "0" * 25 + "5", "", None, [], {"$": True}):
        nested = dict(tree[key])
        for inner in list(nested):
            nested[inner] = odd
            changed = {**tree, key: nested}
            _assert_same_as_general(changed)


@pytest.mark.parametrize(("fmt", "compact"), BODIES)
@given(registry=strategies.registries)
@big_inputs
def test_registry_bodies_decode_to_what_the_general_reader_gives(
    fmt: WireFormat, compact: bool, registry: Applications
) -> None:
    body = encode_applications(registry, fmt, compact=compact)
    with general_reader_only():
        expected = decode_applications(body, fmt, now_ms=NOW)
    assert decode_applications(body, fmt, now_ms=NOW) == expected
    assert decode_applications(body, fmt, now_ms=NOW, reuse=DecodedInstances()) == expected


# -- reuse ----------------------------------------------------------------------------------------


def _body(instances: list[InstanceInfo], fmt: WireFormat = WireFormat.JSON) -> bytes:
    return encode_applications(Applications.of(instances), fmt)


@pytest.mark.parametrize(("fmt", "compact"), BODIES)
@given(first=strategies.registries, second=strategies.registries)
@big_inputs
def test_a_read_with_reuse_equals_a_fresh_read_whatever_came_before(
    fmt: WireFormat, compact: bool, first: Applications, second: Applications
) -> None:
    memo = DecodedInstances()
    decode_applications(encode_applications(first, fmt, compact=compact), fmt, reuse=memo)
    body = encode_applications(second, fmt, compact=compact)
    assert decode_applications(body, fmt, now_ms=NOW, reuse=memo) == decode_applications(
        body, fmt, now_ms=NOW
    )


@given(
    st.lists(
        strategies.instances(st.just("ORDERS")),
        min_size=1,
        max_size=4,
        unique_by=lambda i: i.instance_id,
    ),
    st.data(),
)
@big_inputs
def test_a_changed_field_always_shows_in_the_next_read(
    instances: list[InstanceInfo], data: st.DataObject
) -> None:
    memo = DecodedInstances()
    decode_applications(_body(instances), WireFormat.JSON, reuse=memo)
    index = data.draw(st.integers(0, len(instances) - 1))
    changed = data.draw(strategies.instances(st.just("ORDERS")))
    changed = changed.evolve(instance_id=instances[index].instance_id)
    after = [*instances[:index], changed, *instances[index + 1 :]]
    read = decode_applications(_body(after), WireFormat.JSON, reuse=memo)
    assert read == decode_applications(_body(after), WireFormat.JSON)
    assert memo.reused >= len(instances) - 1 - (changed != instances[index])


def test_unchanged_instances_come_back_as_the_same_objects() -> None:
    instances = [
        InstanceInfo(f"h{n}", "ORDERS", f"h{n}", "10.0.0.1", last_dirty_timestamp=n)
        for n in range(5)
    ]
    memo = DecodedInstances()
    first = decode_applications(_body(instances), WireFormat.JSON, reuse=memo)
    instances[2] = instances[2].evolve(status=InstanceStatus.DOWN)
    second = decode_applications(_body(instances), WireFormat.JSON, reuse=memo)
    old, new = first.applications[0].instances, second.applications[0].instances
    assert [a is b for a, b in zip(old, new, strict=True)] == [True, True, False, True, True]
    assert new[2].status is InstanceStatus.DOWN
    assert memo.reused == 4 and len(memo) == 5


def _registry_json(instance: dict[str, Any]) -> bytes:
    app = {"name": "ORDERS", "instance": [instance]}
    return orjson.dumps({"applications": {"apps__hashcode": "", "application": [app]}})


def test_a_number_turned_into_a_boolean_is_read_again_not_reused() -> None:
    # 1 == True in Python: the reuse must tell them apart, and true is no country id.
    tree = orjson.loads(orjson.dumps(instance_to_dict(InstanceInfo("h", "ORDERS", "h", "ip"))))
    memo = DecodedInstances()
    decode_applications(_registry_json({**tree, "countryId": 1}), WireFormat.JSON, reuse=memo)
    with pytest.raises(DecodeError, match="countryId"):
        decode_applications(
            _registry_json({**tree, "countryId": True}), WireFormat.JSON, reuse=memo
        )


def test_instances_without_a_last_dirty_timestamp_are_read_again_with_the_new_now() -> None:
    tree = orjson.loads(orjson.dumps(instance_to_dict(InstanceInfo("h", "ORDERS", "h", "ip"))))
    del tree["lastDirtyTimestamp"]
    body = _registry_json(tree)
    memo = DecodedInstances()
    decode_applications(body, WireFormat.JSON, now_ms=1, reuse=memo)
    read = decode_applications(body, WireFormat.JSON, now_ms=2, reuse=memo)
    assert read.applications[0].instances[0].last_dirty_timestamp == 2


def test_an_instance_under_another_application_is_not_taken_for_the_old_one() -> None:
    tree = orjson.loads(orjson.dumps(instance_to_dict(InstanceInfo("h", "ORDERS", "h", "ip"))))
    del tree["app"]  # the application's name decides its app
    memo = DecodedInstances()
    decode_applications(_registry_json(tree), WireFormat.JSON, reuse=memo)
    app = {"name": "PAYMENTS", "instance": [tree]}
    body = orjson.dumps({"applications": {"apps__hashcode": "", "application": [app]}})
    read = decode_applications(body, WireFormat.JSON, reuse=memo)
    assert read.applications[0].instances[0].app == "PAYMENTS"


def test_a_failed_read_keeps_the_instances_of_the_last_good_one() -> None:
    instances = [InstanceInfo(f"h{n}", "ORDERS", f"h{n}", "ip") for n in range(3)]
    memo = DecodedInstances()
    decode_applications(_body(instances), WireFormat.JSON, reuse=memo)
    bad = orjson.loads(_body(instances))
    bad["applications"]["application"][0]["instance"][2]["status"] = "SIDEWAYS"
    with pytest.raises(DecodeError):
        decode_applications(orjson.dumps(bad), WireFormat.JSON, reuse=memo)
    decode_applications(_body(instances), WireFormat.JSON, reuse=memo)
    assert memo.reused == 3


def test_the_quick_path_keeps_the_model_types() -> None:
    tree = orjson.loads(orjson.dumps(instance_to_dict(InstanceInfo("h", "ORDERS", "h", "ip"))))
    quick = plain(tree)
    assert isinstance(quick, InstanceInfo)
    assert Application("ORDERS", (quick,)) == Application("ORDERS", (general(tree),))
    with pytest.raises(AttributeError):
        quick.app = "OTHER"  # type: ignore[misc]


def test_the_quick_path_keeps_the_entries_of_metadata_that_also_has_attributes() -> None:
    tree = orjson.loads(orjson.dumps(instance_to_dict(_bare_instance())))
    tree["metadata"] = {"@class": "java.util.HashMap", "zone": "zone-a", "$": "text"}
    quick = plain(tree)
    assert quick is not None and dict(quick.metadata) == {"zone": "zone-a"}
    assert quick == general(tree)


def _bare_instance() -> InstanceInfo:
    return InstanceInfo(instance_id="i-1", app="ORDERS", host_name="h", ip_addr="10.0.0.1")


# -- leaseInfo: the flat check of six ints, and the field-by-field reading behind it -------------

LEASE_KEYS = (
    "renewalIntervalInSecs",
    "durationInSecs",
    "registrationTimestamp",
    "lastRenewalTimestamp",
    "evictionTimestamp",
    "serviceUpTimestamp",
)
#: Written as ints, each unlike the defaults (30, 90, 0, 0, 0, 0).
WRITTEN = (31, 61, 1_000, 2_000, 3_000, 4_000)
PLAIN_LEASE: dict[str, object] = dict(zip(LEASE_KEYS, WRITTEN, strict=True))
LEASE_ATTRS = (
    "renewal_interval_secs",
    "duration_secs",
    "registration_timestamp",
    "last_renewal_timestamp",
    "eviction_timestamp",
    "service_up_timestamp",
)
LEASE_DEFAULTS = (30, 90, 0, 0, 0, 0)


def _with_lease(lease: Mapping[str, object]) -> dict[str, Any]:
    tree: dict[str, Any] = orjson.loads(orjson.dumps(instance_to_dict(_bare_instance())))
    tree["leaseInfo"] = lease
    return tree


def _lease_values(instance: InstanceInfo | None) -> tuple[int, ...]:
    assert instance is not None
    return tuple(getattr(instance.lease_info, attr) for attr in LEASE_ATTRS)


@pytest.mark.parametrize("position", range(len(LEASE_KEYS)), ids=LEASE_KEYS)
def test_a_lease_with_one_field_missing_or_a_decimal_string_is_read_field_by_field(
    position: int,
) -> None:
    # Five plain ints and one field that is not: the flat check steps aside for the loop, which
    # must read that field (its default when missing) and every other one as written.
    key = LEASE_KEYS[position]
    missing = {k: v for k, v in PLAIN_LEASE.items() if k != key}

    def but(number: int) -> tuple[int, ...]:
        return tuple(number if i == position else v for i, v in enumerate(WRITTEN))

    for lease, expected in (
        (missing, but(LEASE_DEFAULTS[position])),
        ({**PLAIN_LEASE, key: "7"}, but(7)),
        ({**PLAIN_LEASE, key: "-3"}, but(-3)),
    ):
        tree = _with_lease(lease)
        quick = plain(tree)
        assert _lease_values(quick) == expected
        assert quick == general(tree)


@pytest.mark.parametrize("key", LEASE_KEYS[:2])
@pytest.mark.parametrize("value", [2**31, "2147483648", -(2**31) - 1, "-2147483649"])
def test_lease_seconds_beyond_32_bits_are_refused_by_the_quick_path_too(
    key: str, value: object
) -> None:
    # Java reads renewalIntervalInSecs and durationInSecs as ints: the general reader refuses
    # more, and the quick path must not take what the general one refuses.
    tree = _with_lease({**PLAIN_LEASE, key: value})
    assert plain(tree) is None
    with pytest.raises(DecodeError, match=f"instance.leaseInfo.{key}"):
        readers.read_instance(tree, "instance", now_ms=NOW, registration=False)


@pytest.mark.parametrize("lease", [None, ""], ids=["absent", "empty-xml-element"])
def test_an_instance_without_lease_info_takes_the_quick_path_with_the_default_lease(
    lease: object,
) -> None:
    tree = orjson.loads(orjson.dumps(instance_to_dict(_bare_instance())))
    if lease is None:
        del tree["leaseInfo"]
    else:
        tree["leaseInfo"] = lease
    quick = plain(tree)
    assert _lease_values(quick) == LEASE_DEFAULTS
    assert quick == general(tree)


def test_lease_keys_are_read_as_spelled_beside_keys_spelled_otherwise() -> None:
    # Keys differing in case, or wrapped in other text, are not the lease's: both readers
    # ignore them, whatever number they hold.
    decoys: dict[str, object] = {}
    for n, key in enumerate(LEASE_KEYS):
        decoys |= {key.lower(): 900 + n, key.upper(): 800 + n, f"XX{key}XX": 700 + n}
    tree = _with_lease({**decoys, **PLAIN_LEASE})
    quick = plain(tree)
    assert _lease_values(quick) == WRITTEN
    assert quick == general(tree)
