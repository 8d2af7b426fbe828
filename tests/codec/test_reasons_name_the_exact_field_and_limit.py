"""Each unreadable field's reason names that field (its full path) and the limit it broke.

A client's 400 body is all it has to find what it sent wrong; these cases are the fields and
limits that tests/codec/test_errors.py does not already name (found by mutation testing: a wrong
path, bound or default here went unnoticed before).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from eureka_embed.codec import (
    WireFormat,
    decode_application,
    decode_applications,
    instance_from_dict,
)
from eureka_embed.errors import DecodeError, ValidationError
from eureka_embed.register_rules import check_metadata

NOW = 1_700_000_000_000

MINIMAL: dict[str, Any] = {
    "instanceId": "i1",
    "hostName": "h1",
    "app": "orders",
    "ipAddr": "10.0.0.1",
    "dataCenterInfo": {"name": "MyOwn"},
}

INT32_RANGE = "between -2147483648 and 2147483647"
NOT_ONE_VALUE = "must be a single value, not a list"


def instance_reason(changes: dict[str, Any], *, registration: bool = True) -> str:
    with pytest.raises(DecodeError) as caught:
        instance_from_dict({**MINIMAL, **changes}, now_ms=NOW, registration=registration)
    return caught.value.reason


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"ipAddr": ["10.0.0.1"]}, f"instance.ipAddr {NOT_ONE_VALUE}"),
        ({"app": ["orders"]}, f"instance.app {NOT_ONE_VALUE}"),
        ({"instanceId": ["i1"]}, f"instance.instanceId {NOT_ONE_VALUE}"),
        ({"homePageUrl": ["http://h1/"]}, f"instance.homePageUrl {NOT_ONE_VALUE}"),
        ({"status": ["UP"]}, f"instance.status {NOT_ONE_VALUE}"),
        ({"actionType": ["ADDED"]}, f"instance.actionType {NOT_ONE_VALUE}"),
        (
            {"isCoordinatingDiscoveryServer": [True]},
            f"instance.isCoordinatingDiscoveryServer {NOT_ONE_VALUE}",
        ),
        (
            {"lastUpdatedTimestamp": "soon"},
            "instance.lastUpdatedTimestamp must be an integer, got 'soon'",
        ),
        ({"dataCenterInfo": {"name": ["MyOwn"]}}, f"instance.dataCenterInfo.name {NOT_ONE_VALUE}"),
        (
            {"dataCenterInfo": {"name": "MyOwn", "metadata": "zone=a"}},
            "instance.dataCenterInfo.metadata must be an object, got 'zone=a'",
        ),
        # An XML element whose text is itself an element: an object where a string belongs.
        ({"hostName": {"$": {"b": "h1"}}}, "instance.hostName must be a string, got an object"),
        ({"port": {"$": 65536}}, "instance.port.$ must be between 0 and 65535, got 65536"),
        ({"countryId": 2**31}, f"instance.countryId must be {INT32_RANGE}, got {2**31}"),
        (
            {"leaseInfo": {"durationInSecs": 2**31}},
            f"instance.leaseInfo.durationInSecs must be {INT32_RANGE}, got {2**31}",
        ),
        (
            {"isCoordinatingDiscoveryServer": 2},
            "instance.isCoordinatingDiscoveryServer must be true or false, got 2",
        ),
    ],
)
def test_the_reason_names_the_field_and_its_limit(changes: dict[str, Any], reason: str) -> None:
    assert instance_reason(changes) == reason


def test_a_data_center_class_is_named_when_it_decides_the_name() -> None:
    changes = {"dataCenterInfo": {"@class": ["com.netflix.appinfo.AmazonInfo"]}}
    reason = instance_reason(changes, registration=False)
    assert reason == f"instance.dataCenterInfo.@class {NOT_ONE_VALUE}"


@pytest.mark.parametrize(
    ("sent", "read"),
    [(True, True), (False, False), (1, True), (0, False), ("1", True), ("0", False)],
)
def test_booleans_arrive_as_words_or_digits(sent: object, read: bool) -> None:
    info = instance_from_dict({**MINIMAL, "isCoordinatingDiscoveryServer": sent}, now_ms=NOW)
    assert info.is_coordinating_discovery_server is read


def test_a_port_enabled_flag_without_the_at_sign_is_read() -> None:
    info = instance_from_dict({**MINIMAL, "port": {"$": 8080, "enabled": "false"}}, now_ms=NOW)
    assert (info.port.port, info.port.enabled) == (8080, False)


@pytest.mark.parametrize(
    ("status_length", "shown"),
    [
        (58, "'" + "X" * 58 + "'"),  # a 60-character repr is shown whole
        (59, "'" + "X" * 56 + "..."),  # one more and it is cut to 57 characters and "..."
    ],
)
def test_long_values_are_cut_at_sixty_characters(status_length: int, shown: str) -> None:
    reason = instance_reason({"status": "X" * status_length})
    assert reason.startswith(f"instance.status has unknown value {shown} (expected one of ")


def json_applications(tree: object) -> bytes:
    return orjson.dumps({"applications": tree})


@pytest.mark.parametrize(
    ("tree", "reason"),
    [
        (5, "applications must be an object, got 5"),
        ({"application": [5]}, "applications.application[0] must be an object, got 5"),
        (
            {"application": [{"name": ["A"]}]},
            f"applications.application[0].name {NOT_ONE_VALUE}",
        ),
        (
            {"application": [{"name": "A", "instance": 3}]},
            "applications.application[0].instance must be a list of objects, got 3",
        ),
        ({"versions__delta": ["7"]}, f"applications.versions__delta {NOT_ONE_VALUE}"),
        ({"apps__hashcode": ["UP_1_"]}, f"applications.apps__hashcode {NOT_ONE_VALUE}"),
        (
            {"application": [{"instance": [{"hostName": "h1"}]}]},
            "applications.application[0].name is missing",
        ),
    ],
)
def test_registry_payload_reasons_name_the_position(tree: object, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_applications(json_applications(tree), WireFormat.JSON)
    assert caught.value.reason == reason


def test_a_registry_payload_without_version_or_hashcode_gets_eurekas_defaults() -> None:
    apps = decode_applications(json_applications({"application": "  "}), WireFormat.JSON)
    assert (apps.applications, apps.version, apps.apps_hashcode) == ((), "1", "")


def test_an_application_without_a_name_takes_its_first_instances_app() -> None:
    body = orjson.dumps({"application": {"instance": [{**MINIMAL, "app": "orders"}]}})
    assert decode_application(body, WireFormat.JSON).name == "ORDERS"


def test_instances_a_server_sends_are_not_read_as_registrations() -> None:
    # A server's payload may omit the data center; only a registration keeps it empty.
    instance = {key: value for key, value in MINIMAL.items() if key != "dataCenterInfo"}
    body = orjson.dumps({"application": {"name": "ORDERS", "instance": [instance]}})
    (read,) = decode_application(body, WireFormat.JSON).instances
    assert read.data_center_info.name == "MyOwn"


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ({"has space": "x"}, "metadata key 'has space' is not allowed"),
        ({7: "x"}, "metadata must map names to strings, got 7"),
    ],
)
def test_a_metadata_update_names_what_it_refuses(metadata: Any, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_metadata(metadata)
    assert caught.value.reason.startswith(reason)
