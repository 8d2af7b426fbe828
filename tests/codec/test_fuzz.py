"""Whatever arrives, decoding either succeeds or raises DecodeError: nothing else leaks.

Whatever decodes (registration or not) encodes again, to JSON and to well-formed XML; whatever
the register rules accept comes back unchanged from both formats.
"""

from __future__ import annotations

import contextlib
import encodings
import encodings.aliases
import json
import pkgutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any, Final

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eureka_embed.codec import (
    WireFormat,
    decode_application,
    decode_applications,
    decode_instance,
    encode_instance,
    instance_from_dict,
)
from eureka_embed.errors import DecodeError
from eureka_embed.model import InstanceInfo
from eureka_embed.register_rules import check_registration
from tests.codec import strategies

NOW = 1_700_000_000_000
FORMATS = pytest.mark.parametrize("fmt", list(WireFormat), ids=lambda f: f.name)

INSTANCE_KEYS = [
    "instanceId", "hostName", "app", "ipAddr", "sid", "status", "overriddenStatus",
    "overriddenstatus", "port", "securePort", "countryId", "dataCenterInfo", "leaseInfo",
    "metadata", "appGroupName", "homePageUrl", "statusPageUrl", "healthCheckUrl",
    "secureHealthCheckUrl", "vipAddress", "secureVipAddress", "isCoordinatingDiscoveryServer",
    "lastUpdatedTimestamp", "lastDirtyTimestamp", "actionType", "asgName",
]  # fmt: skip
NESTED_KEYS = [
    "$", "@enabled", "@class", "name", "metadata", "instance-id", "durationInSecs",
    "renewalIntervalInSecs", "instance", "application", "versions__delta", "apps__hashcode",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["", " ", "UP", "up", "true", "8080", "-1", "1e3", "Amazon", "MyOwn"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(NESTED_KEYS) | st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)
instance_dicts = st.dictionaries(st.sampled_from(INSTANCE_KEYS), json_values, max_size=12)
DECODERS: list[Callable[..., object]] = [decode_instance, decode_application, decode_applications]


def _survives(decode: Callable[..., object], body: bytes | str, fmt: WireFormat) -> object:
    modes = (
        ({"registration": True}, {"registration": False}) if decode is decode_instance else ({},)
    )
    for mode in modes:
        with contextlib.suppress(DecodeError):
            return decode(body, fmt, now_ms=NOW, **mode)
    return None


def _encodes_cleanly(decoded: object) -> None:
    if isinstance(decoded, InstanceInfo):
        orjson.loads(encode_instance(decoded, WireFormat.JSON))
        ET.fromstring(encode_instance(decoded, WireFormat.XML))


@FORMATS
@pytest.mark.parametrize("decode", DECODERS, ids=lambda d: d.__name__)
@given(body=st.binary(max_size=200))
def test_arbitrary_bytes(fmt: WireFormat, decode: Callable[..., object], body: bytes) -> None:
    _survives(decode, body, fmt)


@FORMATS
@pytest.mark.parametrize("decode", DECODERS, ids=lambda d: d.__name__)
@given(body=st.text(max_size=100))
def test_arbitrary_text(fmt: WireFormat, decode: Callable[..., object], body: str) -> None:
    _survives(decode, body, fmt)


ENCODINGS = sorted(
    set(encodings.aliases.aliases.values())
    | {module.name for module in pkgutil.iter_modules(encodings.__path__)}
)


@given(
    encoding=st.sampled_from(ENCODINGS),
    content=st.binary(max_size=20),
)
def test_any_declared_encoding(encoding: str, content: bytes) -> None:
    body = f'<?xml version="1.0" encoding="{encoding}"?><instance><hostName>'.encode()
    _survives(decode_instance, body + content + b"</hostName></instance>", WireFormat.XML)


@pytest.mark.parametrize("decode", DECODERS, ids=lambda d: d.__name__)
@given(value=json_values)
def test_arbitrary_json_values(decode: Callable[..., object], value: Any) -> None:
    # The stdlib writes integers of any size, which orjson reads back as floats.
    _survives(decode, json.dumps(value), WireFormat.JSON)


@given(body=instance_dicts, wrap=st.booleans())
def test_arbitrary_instance_objects(body: dict[str, Any], wrap: bool) -> None:
    payload = {"instance": body} if wrap else body
    _encodes_cleanly(_survives(decode_instance, json.dumps(payload), WireFormat.JSON))
    with contextlib.suppress(DecodeError):
        _encodes_cleanly(instance_from_dict(body, now_ms=NOW, registration=False))


@given(
    base=strategies.instances(),
    key=st.sampled_from(INSTANCE_KEYS),
    value=json_values,
)
def test_one_field_replaced_by_anything(base: InstanceInfo, key: str, value: Any) -> None:
    body = orjson.loads(encode_instance(base, WireFormat.JSON))
    body["instance"][key] = value
    _encodes_cleanly(_survives(decode_instance, json.dumps(body), WireFormat.JSON))


@given(
    key=st.sampled_from(INSTANCE_KEYS),
    value=st.text(st.characters(max_codepoint=0x7F), max_size=6) | st.text(max_size=6),
)
def test_any_text_in_any_field(key: str, value: str) -> None:
    body = {**ACCEPTABLE, key: value}
    accepted = _registered_unchanged_or_refused(body, key)
    if accepted is not None and key in TEXT_FIELDS and value.strip():
        # Text is kept as sent (only the app is upper-cased), never trimmed or replaced.
        assert getattr(accepted, TEXT_FIELDS[key]) == (value.upper() if key == "app" else value)
    _registered_unchanged_or_refused({**body, "port": {"$": value, "@enabled": value}}, key, "port")


ACCEPTABLE: Final = {
    "instanceId": "i",
    "hostName": "h",
    "app": "a",
    "ipAddr": "1",
    "dataCenterInfo": {"name": "MyOwn"},
}
TEXT_FIELDS: Final = {
    "instanceId": "instance_id",
    "hostName": "host_name",
    "app": "app",
    "ipAddr": "ip_addr",
    "sid": "sid",
    "appGroupName": "app_group_name",
    "homePageUrl": "home_page_url",
    "statusPageUrl": "status_page_url",
    "healthCheckUrl": "health_check_url",
    "secureHealthCheckUrl": "secure_health_check_url",
    "vipAddress": "vip_address",
    "secureVipAddress": "secure_vip_address",
    "asgName": "asg_name",
}


def _registered_unchanged_or_refused(body: dict[str, Any], *fields: str) -> InstanceInfo | None:
    """What a client sees: a 400 naming one of ``fields``, or an instance served back unchanged."""
    try:
        accepted = instance_from_dict(body, now_ms=NOW)
        check_registration(accepted)
    except DecodeError as exc:  # a ValidationError is one, and nothing else may escape
        assert any(field.lower() in exc.reason.lower() for field in fields), exc.reason
        return None
    for fmt in WireFormat:
        assert decode_instance(encode_instance(accepted, fmt), fmt, now_ms=NOW) == accepted
    return accepted


# XML: random element trees over Eureka's vocabulary, with random attributes and text.

tags = st.sampled_from(
    [k for k in INSTANCE_KEYS + NESTED_KEYS if k[0] not in "$@"]
) | st.from_regex(r"[a-z][a-z0-9]{0,3}", fullmatch=True)
xml_text = st.none() | st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00\ufffe\uffff"), max_size=8
).map(lambda s: "".join(c for c in s if c >= " " or c in "\t\n\r"))


@st.composite
def elements(draw: st.DrawFn, depth: int = 0) -> ET.Element:
    element = ET.Element(draw(tags))
    for name in draw(st.lists(st.sampled_from(["enabled", "class", "x"]), max_size=2)):
        element.set(
            name, draw(st.sampled_from(["true", "1", "", "com.netflix.appinfo.AmazonInfo"]))
        )
    element.text = draw(xml_text)
    if depth < 3:  # deep enough for applications/application/instance/dataCenterInfo/metadata
        element.extend(draw(st.lists(elements(depth + 1), max_size=3)))
    return element


@pytest.mark.parametrize("root", ["instance", "application", "applications"])
@given(children=st.lists(elements(), max_size=6))
def test_arbitrary_xml_trees(root: str, children: list[ET.Element]) -> None:
    document = ET.Element(root)
    document.extend(children)
    body = ET.tostring(document)
    decode = DECODERS[["instance", "application", "applications"].index(root)]
    _encodes_cleanly(_survives(decode, body, WireFormat.XML))


@given(base=strategies.instances(), tag=tags, text=xml_text)
def test_one_xml_field_replaced_by_anything(base: InstanceInfo, tag: str, text: str | None) -> None:
    document = ET.fromstring(encode_instance(base, WireFormat.XML))
    target = document.find(tag)
    if target is None:
        target = ET.SubElement(document, tag)
    target.text = text
    body = ET.tostring(document)
    _encodes_cleanly(_survives(decode_instance, body, WireFormat.XML))
