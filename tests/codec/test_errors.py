"""Bad input raises exactly one typed error with a reason naming the field; XML attacks fail."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from eureka_embed.codec import (
    WireFormat,
    decode_application,
    decode_applications,
    decode_instance,
    instance_from_dict,
)
from eureka_embed.errors import DecodeError, ValidationError
from eureka_embed.register_rules import check_registration

NOW = 1_700_000_000_000

MINIMAL: dict[str, Any] = {
    "instanceId": "i1",
    "hostName": "h1",
    "app": "orders",
    "ipAddr": "10.0.0.1",
    "dataCenterInfo": {"name": "MyOwn"},
}


def reason_for(body: dict[str, Any]) -> str:
    with pytest.raises(DecodeError) as caught:
        instance_from_dict(body, now_ms=NOW)
    return caught.value.reason


def without(*keys: str, **changes: Any) -> dict[str, Any]:
    body = {key: value for key, value in MINIMAL.items() if key not in keys}
    return {**body, **changes}


@pytest.mark.parametrize(
    "body",
    [
        without("instanceId", "hostName"),
        without(hostName="  "),
        without("ipAddr"),
        without(app=""),
        without("dataCenterInfo"),
        without(dataCenterInfo={"name": "Azure"}),
        without(metadata={"has space": "x"}),
        without(hostName="h\x00"),
    ],
)
def test_a_registration_that_breaks_a_register_rule_still_decodes(body: dict[str, Any]) -> None:
    # The registry judges what was read (tests/test_register_rules.py); decoding judging too
    # would run every rule twice per registration.
    info = instance_from_dict(body, now_ms=NOW)
    with pytest.raises(ValidationError):
        check_registration(info)


@pytest.mark.parametrize(
    ("data_center", "as_registration", "as_registry_read"),
    [
        (None, "", "MyOwn"),
        ("", "", "MyOwn"),
        ({"@class": "com.netflix.appinfo.AmazonInfo"}, "", "Amazon"),
        ({"name": " "}, "", "MyOwn"),
        ({"name": "amazon"}, "Amazon", "Amazon"),
        ({"name": "MYOWN"}, "MyOwn", "MyOwn"),
        ({"name": "Azure"}, "Azure", "Azure"),
    ],
)
def test_a_registration_keeps_a_missing_data_center_name_missing_for_the_rules(
    data_center: object, as_registration: str, as_registry_read: str
) -> None:
    body = without("dataCenterInfo") if data_center is None else without(dataCenterInfo=data_center)
    registration = instance_from_dict(body, now_ms=NOW)
    read = instance_from_dict(body, now_ms=NOW, registration=False)
    assert registration.data_center_info.name == as_registration
    assert read.data_center_info.name == as_registry_read


def test_registry_reads_fill_in_what_is_missing() -> None:
    info = instance_from_dict({"dataCenterInfo": {"name": "Azure"}}, registration=False, now_ms=NOW)
    assert (info.instance_id, info.host_name, info.app) == ("", "", "")
    assert info.data_center_info.name == "Azure"
    amazon = {"dataCenterInfo": {"@class": "com.netflix.appinfo.AmazonInfo"}}
    read = instance_from_dict(amazon, registration=False, now_ms=NOW)
    assert read.data_center_info.name == "Amazon"
    assert instance_from_dict({}, registration=False, now_ms=NOW).data_center_info.name == "MyOwn"


STATUSES = "(expected one of UP, DOWN, STARTING, OUT_OF_SERVICE, UNKNOWN)"
INT64_RANGE = "between -9223372036854775808 and 9223372036854775807"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"port": "http"}, "instance.port must be an integer, got 'http'"),
        ({"port": {"$": "80a"}}, "instance.port.$ must be an integer, got '80a'"),
        ({"port": 70000}, "instance.port must be between 0 and 65535, got 70000"),
        ({"port": -1}, "instance.port must be between 0 and 65535, got -1"),
        ({"port": True}, "instance.port must be an integer, got True"),
        ({"port": 80.5}, "instance.port must be an integer, got 80.5"),
        ({"port": [80]}, "instance.port must be a single value, not a list"),
        ({"port": "\x1c80"}, "instance.port must be an integer, got '\\x1c80'"),
        ({"port": "٨٠"}, "instance.port must be an integer, got '٨٠'"),
        (
            {"securePort": {"$": 1, "@enabled": "yes"}},
            "instance.securePort.@enabled must be true or false, got 'yes'",
        ),
        (
            {"lastDirtyTimestamp": "yesterday"},
            "instance.lastDirtyTimestamp must be an integer, got 'yesterday'",
        ),
        (
            {"lastDirtyTimestamp": "9" * 40},
            f"instance.lastDirtyTimestamp must be an integer, got '{'9' * 40}'",
        ),
        (
            {"lastDirtyTimestamp": 2**63},
            f"instance.lastDirtyTimestamp must be {INT64_RANGE}, got {2**63}",
        ),
        (
            {"leaseInfo": {"durationInSecs": "90s"}},
            "instance.leaseInfo.durationInSecs must be an integer, got '90s'",
        ),
        ({"leaseInfo": [1]}, "instance.leaseInfo must be an object, got a list"),
        ({"countryId": "us"}, "instance.countryId must be an integer, got 'us'"),
        ({"status": "RUNNING"}, f"instance.status has unknown value 'RUNNING' {STATUSES}"),
        (
            {"overriddenstatus": "NOPE"},
            f"instance.overriddenStatus has unknown value 'NOPE' {STATUSES}",
        ),
        (
            {"actionType": "REMOVED"},
            "instance.actionType has unknown value 'REMOVED' "
            "(expected one of ADDED, MODIFIED, DELETED)",
        ),
        (
            {"isCoordinatingDiscoveryServer": "maybe"},
            "instance.isCoordinatingDiscoveryServer must be true or false, got 'maybe'",
        ),
        ({"hostName": {"first": "h"}}, "instance.hostName must be a single value, not an object"),
        ({"metadata": "zone=a"}, "instance.metadata must be an object, got 'zone=a'"),
        (
            {"metadata": {"k": {"nested": 1}}},
            "instance.metadata['k'] must be a single value, not an object",
        ),
        ({"dataCenterInfo": ["MyOwn"]}, "instance.dataCenterInfo must be an object, got a list"),
    ],
)
def test_unreadable_values(changes: dict[str, Any], reason: str) -> None:
    for registration in (True, False):
        with pytest.raises(DecodeError) as caught:
            instance_from_dict({**MINIMAL, **changes}, now_ms=NOW, registration=registration)
        assert type(caught.value) is DecodeError
        assert caught.value.reason == reason


def test_long_values_are_shortened_in_reasons() -> None:
    reason = reason_for({**MINIMAL, "status": "X" * 500})
    assert len(reason) < 200
    assert "..." in reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "body is not valid JSON"),
        (b"{", "body is not valid JSON"),
        (b"\xff\xfe", "body is not valid JSON"),
        (b"[]", "body must be a JSON object, got a list"),
        (b"42", "body must be a JSON object, got int"),
        (b'"instance"', "body must be a JSON object, got str"),
        (b'{"instance": null}', "instance is missing"),
        (b'{"instance": 5}', "instance must be an object, got 5"),
        (b'{"instance": [{}, {}]}', "instance must be an object, got a list"),
    ],
)
def test_unreadable_json_bodies(body: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_instance(body, WireFormat.JSON)
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "body is not well-formed XML"),
        (b"<instance>", "body is not well-formed XML"),
        (b"<instance><a></b></instance>", "body is not well-formed XML"),
        (b"<x:instance/>", "body is not well-formed XML"),
        (b"{}", "body is not well-formed XML"),
        (b"<application/>", "expected an <instance> document, got <application>"),
        (b"<instance/>", "instance is missing"),
        (b'<?xml version="1.0" encoding="bogus"?><instance/>', "body declares an encoding"),
        (b'<?xml version="1.0" encoding="shift_jis"?><instance/>', "body declares an encoding"),
        (b'<?xml version="1.0" encoding="hex"?><instance/>', "body declares an encoding"),
        (
            b'<?xml version="1.0" encoding="unicode_escape"?><instance>\\]</instance>',
            "body declares an encoding",
        ),
        ("<instance>\ud800</instance>", "body is not valid text"),
        (b"<instance>text</instance>", "instance must be an object, got 'text'"),
    ],
)
def test_unreadable_xml_bodies(body: bytes | str, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_instance(body, WireFormat.XML)
    assert caught.value.reason.startswith(reason)


def test_registry_payload_errors_name_the_position() -> None:
    body = orjson.dumps(
        {"applications": {"application": [{"name": "A", "instance": [{}, {"port": "x"}]}]}}
    )
    with pytest.raises(DecodeError) as caught:
        decode_applications(body, WireFormat.JSON)
    assert caught.value.reason == (
        "applications.application[0].instance[1].port must be an integer, got 'x'"
    )
    with pytest.raises(DecodeError) as caught:
        decode_application(b'{"application": {"instance": []}}', WireFormat.JSON)
    assert caught.value.reason == "application.name is missing"
    with pytest.raises(DecodeError) as caught:
        decode_applications(b'{"applications": {"application": 3}}', WireFormat.JSON)
    assert caught.value.reason == "applications.application must be a list of objects, got 3"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<instance><hostName>&lol9;</hostName></instance>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE instance [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<instance><hostName>&xxe;</hostName></instance>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE instance [<!ENTITY % remote SYSTEM "http://127.0.0.1:1/evil.dtd"> %remote;]>
<instance/>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE instance SYSTEM "http://127.0.0.1:1/evil.dtd">
<instance/>"""


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, PARAMETER_ENTITY, EXTERNAL_DTD],
    ids=["billion-laughs", "external-entity", "parameter-entity", "external-dtd"],
)
def test_xml_attacks_are_refused(body: bytes) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_instance(body, WireFormat.XML)
    assert "not allowed" in caught.value.reason


def test_deep_xml_is_refused_without_recursion_errors() -> None:
    depth = 100_000
    body = b"<instance>" + b"<a>" * depth + b"</a>" * depth + b"</instance>"
    with pytest.raises(DecodeError) as caught:
        decode_instance(body, WireFormat.XML)
    assert caught.value.reason == "XML is nested more than 32 levels deep"


def test_deep_json_is_refused() -> None:
    depth = 100_000
    body = b'{"instance":' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(DecodeError):
        decode_instance(body, WireFormat.JSON)
