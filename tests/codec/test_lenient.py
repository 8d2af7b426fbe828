"""Every variant real clients send decodes: the lenient rules, one by one, in both formats."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from eureka_embed.codec import WireFormat, decode_instance, instance_from_dict
from eureka_embed.model import InstanceInfo, InstanceStatus, PortInfo

NOW = 1_700_000_000_000

MINIMAL: dict[str, Any] = {
    "hostName": "h1",
    "app": "orders",
    "ipAddr": "10.0.0.1",
    "dataCenterInfo": {"name": "MyOwn"},
}


def read(**changes: Any) -> InstanceInfo:
    """The minimal instance with ``changes`` (``None`` removes a key), through the JSON path."""
    body = {**MINIMAL, **changes}
    body = {key: value for key, value in body.items() if value is not None}
    return decode_instance(orjson.dumps({"instance": body}), WireFormat.JSON, now_ms=NOW)


def read_xml(fields: str) -> InstanceInfo:
    body = (
        "<instance><hostName>h1</hostName><app>orders</app><ipAddr>10.0.0.1</ipAddr>"
        f"<dataCenterInfo><name>MyOwn</name></dataCenterInfo>{fields}</instance>"
    )
    return decode_instance(body, WireFormat.XML, now_ms=NOW)


def test_defaults_for_a_minimal_body() -> None:
    info = read()
    assert info == InstanceInfo(
        instance_id="h1", app="ORDERS", host_name="h1", ip_addr="10.0.0.1", sid=None,
        last_dirty_timestamp=NOW,
    )  # fmt: skip
    assert read_xml("") == info


@pytest.mark.parametrize(
    "port",
    [
        8080,
        "8080",
        " 8080 ",
        8080.0,
        {"$": 8080},
        {"$": "8080", "@enabled": "true"},
        {"$": 8080, "@enabled": True},
        {"$": 8080, "@enabled": "TRUE"},
        {"$": 8080, "@enabled": 1},
        {"$": 8080, "enabled": "true"},
        {"$": 8080, "@enabled": None},
    ],
)
def test_port_spellings(port: object) -> None:
    assert read(port=port).port == PortInfo(8080, True)


def test_secure_port_defaults_to_disabled_and_reads_booleans() -> None:
    assert read(securePort=8443).secure_port == PortInfo(8443, False)
    assert read(securePort={"$": 8443, "@enabled": True}).secure_port == PortInfo(8443, True)
    assert read(securePort={"@enabled": "true"}).secure_port == PortInfo(7002, True)
    assert read_xml('<securePort enabled="true">8443</securePort>').secure_port == PortInfo(
        8443, True
    )
    assert read_xml("<port>9090</port>").port == PortInfo(9090, True)


@pytest.mark.parametrize("key", ["overriddenStatus", "overriddenstatus"])
def test_both_override_spellings(key: str) -> None:
    assert read(**{key: "OUT_OF_SERVICE"}).overridden_status is InstanceStatus.OUT_OF_SERVICE
    xml = read_xml(f"<{key}>DOWN</{key}>")
    assert xml.overridden_status is InstanceStatus.DOWN


def test_camel_case_override_wins_over_a_null_one() -> None:
    body = {**MINIMAL, "overriddenStatus": None, "overriddenstatus": "DOWN"}
    assert instance_from_dict(body, now_ms=NOW).overridden_status is InstanceStatus.DOWN


def test_statuses_in_any_case_and_empty_means_default() -> None:
    assert read(status="down").status is InstanceStatus.DOWN
    assert read(status=" Starting ").status is InstanceStatus.STARTING
    assert read(status="").status is InstanceStatus.UP
    assert read(overriddenstatus="").overridden_status is InstanceStatus.UNKNOWN


@pytest.mark.parametrize(("value", "expected"), [("true", True), (True, True), ("False", False)])
def test_booleans(value: object, expected: bool) -> None:
    assert read(isCoordinatingDiscoveryServer=value).is_coordinating_discovery_server is expected


@pytest.mark.parametrize("value", [1712957014863, "1712957014863", 1712957014863.0])
def test_timestamps_as_numbers_or_strings(value: object) -> None:
    info = read(lastDirtyTimestamp=value, lastUpdatedTimestamp=value)
    assert info.last_dirty_timestamp == info.last_updated_timestamp == 1712957014863


def test_missing_or_empty_last_dirty_timestamp_is_now() -> None:
    assert read().last_dirty_timestamp == NOW
    assert read(lastDirtyTimestamp="").last_dirty_timestamp == NOW
    assert read_xml("<lastDirtyTimestamp></lastDirtyTimestamp>").last_dirty_timestamp == NOW


def test_now_defaults_to_the_system_clock() -> None:
    body = orjson.dumps(MINIMAL)
    assert decode_instance(body, WireFormat.JSON).last_dirty_timestamp > NOW


def test_nulls_anywhere_are_absent() -> None:
    nulls = dict.fromkeys(
        [
            "instanceId", "sid", "status", "overriddenStatus", "port", "securePort", "countryId",
            "leaseInfo", "metadata", "appGroupName", "homePageUrl",
            "isCoordinatingDiscoveryServer", "lastUpdatedTimestamp", "lastDirtyTimestamp",
            "actionType", "asgName",
        ]
    )  # fmt: skip
    body = {**MINIMAL, **nulls, "leaseInfo": {"durationInSecs": None}}
    assert instance_from_dict(body, now_ms=NOW) == read()


def test_empty_strings_for_optional_fields_are_absent() -> None:
    info = read(
        homePageUrl="", statusPageUrl="", healthCheckUrl="", secureHealthCheckUrl="",
        vipAddress="", secureVipAddress="", appGroupName="", asgName="", sid="",
    )  # fmt: skip
    assert info == read()


def test_unknown_keys_are_ignored() -> None:
    assert read(somethingNew={"deep": [1, 2]}, renewalTimestamp=5) == read()
    assert read_xml("<somethingNew><deep>1</deep><deep>2</deep></somethingNew>") == read()


def test_bare_instance_body() -> None:
    body = orjson.dumps(MINIMAL)
    assert decode_instance(body, WireFormat.JSON, now_ms=NOW) == read()


def test_instance_wrapped_in_a_one_element_list() -> None:
    body = orjson.dumps({"instance": [MINIMAL]})
    assert decode_instance(body, WireFormat.JSON, now_ms=NOW) == read()


def test_str_body() -> None:
    assert decode_instance(orjson.dumps(MINIMAL).decode(), WireFormat.JSON, now_ms=NOW) == read()


def test_app_names_are_upper_cased() -> None:
    assert read(app="Orders-Service").app == "ORDERS-SERVICE"


def test_data_center_name_decides_without_class() -> None:
    info = read(dataCenterInfo={"name": "Amazon", "metadata": {"instance-id": "i-9"}})
    assert info.data_center_info.class_name == "com.netflix.appinfo.AmazonInfo"
    assert info.instance_id == "i-9"
    assert read(dataCenterInfo={"name": "myown"}).data_center_info.name == "MyOwn"


def test_instance_id_falls_back_to_host_when_amazon_has_no_id() -> None:
    assert read(dataCenterInfo={"name": "Amazon"}).instance_id == "h1"
    assert read(instanceId="  ").instance_id == "h1"


def test_metadata_values_are_coerced_and_class_keys_dropped() -> None:
    info = read(
        metadata={
            "@class": "java.util.HashMap",
            "n": 7,
            "f": 1.5,
            "yes": True,
            "no": False,
            "empty": "",
            "gone": None,
        }
    )
    assert dict(info.metadata) == {"n": "7", "f": "1.5", "yes": "true", "no": "false", "empty": ""}


def test_xml_metadata_forms() -> None:
    assert dict(read_xml('<metadata class="java.util.Collections$EmptyMap"/>').metadata) == {}
    assert dict(read_xml("<metadata/>").metadata) == {}
    assert dict(read_xml("<metadata>\n  </metadata>").metadata) == {}
    spaced = read_xml('<metadata class="java.util.HashMap">\n <a> x </a>\n <b/>\n</metadata>')
    assert dict(spaced.metadata) == {"a": " x ", "b": ""}


def test_xml_namespaces_and_comments_are_ignored() -> None:
    body = (
        '<e:instance xmlns:e="urn:eureka"><!-- a comment --><e:hostName>h1</e:hostName>'
        "<e:app>orders</e:app><e:ipAddr>10.0.0.1</e:ipAddr>"
        "<e:dataCenterInfo><e:name>MyOwn</e:name></e:dataCenterInfo></e:instance>"
    )
    assert decode_instance(body, WireFormat.XML, now_ms=NOW) == read()


def test_xml_element_with_attributes_still_reads_as_its_text() -> None:
    assert read_xml('<vipAddress kind="x">orders</vipAddress>').vip_address == "orders"


def test_xml_carriage_returns_survive() -> None:
    assert read_xml("<asgName>a&#13;\nb</asgName>").asg_name == "a\r\nb"


def test_lease_info_partial() -> None:
    lease = read(leaseInfo={"durationInSecs": "30", "evictionTimestamp": 0}).lease_info
    assert (lease.renewal_interval_secs, lease.duration_secs) == (30, 30)


def test_action_type() -> None:
    action = read(actionType="modified").action_type
    assert action is not None and action.value == "MODIFIED"
