"""What the encoders write: exact field spellings, arrays that stay arrays, the compact form."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import orjson
import pytest

from eureka_embed.codec import (
    WireFormat,
    encode_application,
    encode_applications,
    encode_instance,
    instance_to_dict,
)
from eureka_embed.model import (
    ActionType,
    Application,
    Applications,
    DataCenterInfo,
    InstanceInfo,
    InstanceStatus,
    LeaseInfo,
    PortInfo,
)

KNOWN = InstanceInfo(
    instance_id="host1:orders:8080",
    app="ORDERS",
    host_name="host1",
    ip_addr="10.0.0.5",
    status=InstanceStatus.UP,
    overridden_status=InstanceStatus.OUT_OF_SERVICE,
    port=PortInfo(8080, True),
    secure_port=PortInfo(443, False),
    lease_info=LeaseInfo(30, 90, 1000, 2000, 0, 1500),
    metadata={"zone": "a"},
    home_page_url="http://host1:8080/",
    vip_address="orders",
    last_updated_timestamp=1712957014863,
    last_dirty_timestamp=1712957014800,
    action_type=ActionType.ADDED,
)

KNOWN_DICT: dict[str, Any] = {
    "instanceId": "host1:orders:8080",
    "hostName": "host1",
    "app": "ORDERS",
    "ipAddr": "10.0.0.5",
    "sid": "na",
    "status": "UP",
    "overriddenStatus": "OUT_OF_SERVICE",
    "port": {"$": 8080, "@enabled": "true"},
    "securePort": {"$": 443, "@enabled": "false"},
    "countryId": 1,
    "dataCenterInfo": {
        "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
        "name": "MyOwn",
    },
    "leaseInfo": {
        "renewalIntervalInSecs": 30,
        "durationInSecs": 90,
        "registrationTimestamp": 1000,
        "lastRenewalTimestamp": 2000,
        "evictionTimestamp": 0,
        "serviceUpTimestamp": 1500,
    },
    "metadata": {"zone": "a"},
    "homePageUrl": "http://host1:8080/",
    "vipAddress": "orders",
    "isCoordinatingDiscoveryServer": "false",
    "lastUpdatedTimestamp": "1712957014863",
    "lastDirtyTimestamp": "1712957014800",
    "actionType": "ADDED",
}

COMPACT_DROPPED = {
    "appGroupName",
    "overriddenStatus",
    "sid",
    "countryId",
    "homePageUrl",
    "statusPageUrl",
    "healthCheckUrl",
    "secureHealthCheckUrl",
    "isCoordinatingDiscoveryServer",
    "lastDirtyTimestamp",
    "leaseInfo",
    "metadata",
}

EVERYTHING = KNOWN.evolve(
    app_group_name="G",
    status_page_url="s",
    health_check_url="h",
    secure_health_check_url="sh",
    secure_vip_address="sv",
    asg_name="asg",
)


def test_instance_json_matches_eureka_exactly() -> None:
    assert orjson.loads(encode_instance(KNOWN, WireFormat.JSON)) == {"instance": KNOWN_DICT}


def test_instance_json_field_order_follows_eureka() -> None:
    keys = list(instance_to_dict(EVERYTHING))
    assert keys == [
        "instanceId",
        "hostName",
        "app",
        "ipAddr",
        "sid",
        "status",
        "overriddenStatus",
        "port",
        "securePort",
        "countryId",
        "dataCenterInfo",
        "leaseInfo",
        "metadata",
        "appGroupName",
        "homePageUrl",
        "statusPageUrl",
        "healthCheckUrl",
        "secureHealthCheckUrl",
        "vipAddress",
        "secureVipAddress",
        "isCoordinatingDiscoveryServer",
        "lastUpdatedTimestamp",
        "lastDirtyTimestamp",
        "actionType",
        "asgName",
    ]


def test_instance_to_dict_is_plain_and_the_callers_to_change() -> None:
    first = instance_to_dict(KNOWN)
    assert first == KNOWN_DICT
    first["port"]["$"] = 1
    first["dataCenterInfo"]["name"] = "Amazon"
    assert instance_to_dict(KNOWN) == KNOWN_DICT
    assert orjson.loads(encode_instance(KNOWN, WireFormat.JSON))["instance"] == KNOWN_DICT


def test_null_fields_are_left_out() -> None:
    sparse = instance_to_dict(KNOWN.evolve(sid=None, action_type=None, home_page_url=None))
    assert {"sid", "actionType", "homePageUrl", "asgName", "appGroupName"}.isdisjoint(sparse)


def test_empty_metadata_is_written_as_javas_empty_map() -> None:
    tree = instance_to_dict(KNOWN.evolve(metadata={}))
    assert tree["metadata"] == {"@class": "java.util.Collections$EmptyMap"}


def test_amazon_data_center_carries_its_metadata() -> None:
    amazon = DataCenterInfo("Amazon", {"instance-id": "i-1"})
    tree = instance_to_dict(KNOWN.evolve(data_center_info=amazon))
    assert tree["dataCenterInfo"] == {
        "@class": "com.netflix.appinfo.AmazonInfo",
        "name": "Amazon",
        "metadata": {"instance-id": "i-1"},
    }


def test_compact_drops_exactly_the_documented_fields() -> None:
    full = instance_to_dict(EVERYTHING)
    compact = instance_to_dict(EVERYTHING, compact=True)
    assert set(full) >= COMPACT_DROPPED
    assert set(full) - set(compact) == COMPACT_DROPPED
    assert list(compact) == [key for key in full if key not in COMPACT_DROPPED]


def test_single_application_and_instance_stay_arrays() -> None:
    registry = Applications.of([KNOWN])
    tree = orjson.loads(encode_applications(registry, WireFormat.JSON))["applications"]
    assert tree["versions__delta"] == "1"
    assert tree["apps__hashcode"] == "UP_1_"
    assert isinstance(tree["application"], list)
    assert tree["application"][0]["name"] == "ORDERS"
    assert tree["application"][0]["instance"] == [KNOWN_DICT]
    one = orjson.loads(encode_application(Application("ORDERS", (KNOWN,)), WireFormat.JSON))
    assert one == {"application": {"name": "ORDERS", "instance": [KNOWN_DICT]}}


def test_empty_registry() -> None:
    body = encode_applications(Applications(), WireFormat.JSON)
    assert orjson.loads(body) == {
        "applications": {"versions__delta": "1", "apps__hashcode": "", "application": []}
    }
    xml = ET.fromstring(encode_applications(Applications(), WireFormat.XML))
    assert [(child.tag, child.text or "") for child in xml] == [
        ("versions__delta", "1"),
        ("apps__hashcode", ""),
    ]


def test_instance_xml_shape() -> None:
    body = encode_instance(KNOWN, WireFormat.XML)
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?><instance>')
    root = ET.fromstring(body)
    assert root.findtext("overriddenstatus") == "OUT_OF_SERVICE"
    assert root.find("overriddenStatus") is None
    port = root.find("port")
    assert port is not None
    assert (port.text, port.attrib) == ("8080", {"enabled": "true"})
    data_center = root.find("dataCenterInfo")
    assert data_center is not None
    assert data_center.attrib == {"class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo"}
    assert data_center.findtext("name") == "MyOwn"
    assert root.findtext("metadata/zone") == "a"
    assert root.findtext("leaseInfo/serviceUpTimestamp") == "1500"
    assert root.findtext("isCoordinatingDiscoveryServer") == "false"
    assert [child.tag for child in root][:4] == ["instanceId", "hostName", "app", "ipAddr"]


def test_xml_empty_metadata_and_amazon_metadata() -> None:
    amazon = DataCenterInfo("Amazon", {"instance-id": "i-1"})
    body = encode_instance(KNOWN.evolve(metadata={}, data_center_info=amazon), WireFormat.XML)
    assert b'<metadata class="java.util.Collections$EmptyMap"/>' in body
    assert (
        b'<dataCenterInfo class="com.netflix.appinfo.AmazonInfo"><name>Amazon</name>'
        b"<metadata><instance-id>i-1</instance-id></metadata></dataCenterInfo>"
    ) in body


def test_xml_registry_shape() -> None:
    registry = Applications.of([KNOWN, KNOWN.evolve(instance_id="i2")])
    root = ET.fromstring(encode_applications(registry, WireFormat.XML))
    assert root.tag == "applications"
    assert [child.tag for child in root] == ["versions__delta", "apps__hashcode", "application"]
    assert [child.tag for child in root.iterfind("application/*")] == [
        "name",
        "instance",
        "instance",
    ]


@pytest.mark.parametrize("fmt", list(WireFormat), ids=lambda f: f.name)
def test_special_characters_are_escaped(fmt: WireFormat) -> None:
    nasty = "<a href=\"x\">&amp;</a> ]]> 'q' \r\n\t"
    instance = KNOWN.evolve(home_page_url=nasty, metadata={"note": nasty})
    body = encode_instance(instance, fmt)
    if fmt is WireFormat.XML:
        root = ET.fromstring(body)
        assert root.findtext("homePageUrl") == nasty
        assert root.findtext("metadata/note") == nasty
    else:
        assert orjson.loads(body)["instance"]["homePageUrl"] == nasty


def test_xml_never_breaks_on_what_xml_cannot_carry() -> None:
    # Only in-process data can hold these (the readers refuse them at registration).
    instance = KNOWN.evolve(
        home_page_url="a\x00b\ud800c\uffff",
        metadata={"ok": "v\x1f", "bad key": "x", "1digit": "y"},
    )
    root = ET.fromstring(encode_instance(instance, WireFormat.XML))
    assert root.findtext("homePageUrl") == "a\ufffdb\ufffdc\ufffd"
    assert [(child.tag, child.text) for child in root.iterfind("metadata/*")] == [("ok", "v\ufffd")]


def test_json_never_breaks_on_lone_surrogates() -> None:
    instance = KNOWN.evolve(home_page_url="a\ud800b", metadata={"k\udfff": "v"})
    tree = orjson.loads(encode_applications(Applications.of([instance]), WireFormat.JSON))
    (written,) = tree["applications"]["application"][0]["instance"]
    assert written["homePageUrl"] == "a\ufffdb"
    assert written["metadata"] == {"k\ufffd": "v"}
    assert orjson.loads(encode_instance(instance, WireFormat.JSON))["instance"] == written
