"""Content negotiation: format by Accept, gzip by Accept-Encoding, compact, request body formats."""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET

import falcon.testing
import orjson
import pytest

from eureka_embed.codec import WireFormat
from eureka_embed.http.negotiation import accepts_gzip, body_format
from eureka_embed.registry import Registry
from tests.wsgi.helpers import JSON, instance_id, json_body, json_of, register, xml_body

ID1 = instance_id(1)
VARY = "Accept, Accept-Encoding, X-Eureka-Accept"


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, "application/xml"),
        ("*/*", "application/xml"),
        ("application/xml", "application/xml"),
        ("text/xml", "application/xml"),
        ("application/json", "application/json"),
        ("application/json, application/*+json", "application/json"),
        ("text/html;q=0.9, application/json;q=0.8", "application/json"),
    ],
)
def test_json_only_when_accept_mentions_json(
    client: falcon.testing.TestClient, base: str, accept: str | None, content_type: str
) -> None:
    register(client)
    headers = {} if accept is None else {"Accept": accept}

    for path in ("apps", "apps/delta", "apps/ORDERS", f"apps/ORDERS/{ID1}", "vips/orders"):
        result = client.simulate_get(f"{base}/{path}", headers=headers)
        assert result.status_code == 200, path
        assert result.headers["Content-Type"] == content_type, path
        if content_type == "application/json":
            orjson.loads(result.content)
        else:
            ET.fromstring(result.content)


@pytest.mark.parametrize(
    "path", ["apps", "apps/delta", "apps/ORDERS", f"apps/ORDERS/{ID1}", "vips/orders"]
)
@pytest.mark.parametrize("accept", ["application/json", "application/xml"])
def test_gzip_when_the_client_accepts_it(
    client: falcon.testing.TestClient, base: str, path: str, accept: str
) -> None:
    register(client)
    plain = client.simulate_get(f"{base}/{path}", headers={"Accept": accept})

    zipped = client.simulate_get(
        f"{base}/{path}", headers={"Accept": accept, "Accept-Encoding": "deflate, gzip"}
    )

    assert zipped.status_code == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == VARY
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(zipped.content) == plain.content


@pytest.mark.parametrize("header", ["identity", "gzip;q=0", "br"])
def test_no_gzip_unless_acceptable(
    client: falcon.testing.TestClient, base: str, header: str
) -> None:
    register(client)

    result = client.simulate_get(f"{base}/apps", headers={**JSON, "Accept-Encoding": header})

    assert "Content-Encoding" not in result.headers
    assert json_of(result)["applications"]["apps__hashcode"] == "UP_1_"


def test_accepts_gzip_parses_qualities() -> None:
    assert accepts_gzip("gzip")
    assert accepts_gzip("br;q=1.0, GZIP;q=0.5")
    assert accepts_gzip("x-gzip")
    assert not accepts_gzip(None)
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("gzip;q=0.0")
    assert not accepts_gzip("gzip;q=nonsense")
    assert not accepts_gzip("deflate")


@pytest.mark.parametrize("path", ["apps", "apps/delta", "apps/ORDERS", f"apps/ORDERS/{ID1}"])
def test_compact_form_drops_the_heavy_fields(
    client: falcon.testing.TestClient, base: str, path: str
) -> None:
    register(client, metadata={"zone": "a"}, homePageUrl="http://host1:8080/")
    full = client.simulate_get(f"{base}/{path}", headers=JSON)

    compact = client.simulate_get(f"{base}/{path}", headers={**JSON, "X-Eureka-Accept": "compact"})

    assert b"leaseInfo" in full.content
    assert b"metadata" in full.content
    assert b"homePageUrl" in full.content
    for dropped in (b"leaseInfo", b"metadata", b"homePageUrl", b"lastDirtyTimestamp"):
        assert dropped not in compact.content
    assert ID1.encode() in compact.content
    assert compact.headers["Vary"] == VARY


def test_compact_and_gzip_together(client: falcon.testing.TestClient, base: str) -> None:
    register(client)

    result = client.simulate_get(
        f"{base}/apps",
        headers={**JSON, "X-Eureka-Accept": "compact", "Accept-Encoding": "gzip"},
    )

    body = gzip.decompress(result.content)
    assert b"leaseInfo" not in body
    assert ID1.encode() in body


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (None, json_body()),
        (None, xml_body()),
        ("text/plain", xml_body()),
        ("application/octet-stream", json_body()),
        ("application/json; charset=UTF-8", json_body()),
        ("text/xml; charset=utf-8", xml_body()),
    ],
    ids=["none-json", "none-xml", "text-xml", "octet-json", "json-charset", "text-xml-charset"],
)
def test_request_body_format_from_content_type_or_sniffed(
    client: falcon.testing.TestClient,
    registry: Registry,
    base: str,
    content_type: str | None,
    body: bytes,
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}

    result = client.simulate_post(f"{base}/apps/ORDERS", body=body, headers=headers)

    assert result.status_code == 204, result.text
    assert registry.get_instance("ORDERS", ID1) is not None


def test_body_format_sniffs_past_leading_whitespace() -> None:
    assert body_format(None, b"\n  <instance/>") is WireFormat.XML
    assert body_format(None, b'\n  {"instance": {}}') is WireFormat.JSON
    # A declared format wins over the look of the body.
    assert body_format("application/json", b"<instance/>") is WireFormat.JSON


@pytest.mark.parametrize(
    ("accept", "expected"), [(None, "application/xml"), ("application/json", "application/json")]
)
def test_empty_successes_carry_the_negotiated_content_type(
    client: falcon.testing.TestClient, base: str, accept: str | None, expected: str
) -> None:
    register(client)
    headers = {} if accept is None else {"Accept": accept}
    path = f"{base}/apps/ORDERS/{ID1}"

    answers = [
        client.simulate_put(path, headers=headers),
        client.simulate_put(f"{path}/status", params={"value": "DOWN"}, headers=headers),
        client.simulate_delete(f"{path}/status", params={"value": "UP"}, headers=headers),
        client.simulate_put(f"{path}/metadata", params={"a": "b"}, headers=headers),
        client.simulate_delete(path, headers=headers),
    ]

    for answer in answers:
        assert answer.status_code == 200
        assert answer.content == b""
        assert answer.headers["Content-Type"] == expected
