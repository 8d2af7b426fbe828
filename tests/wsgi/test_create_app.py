"""``create_app`` options: base paths, argument checks, peers shown as given."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import falcon.testing
import pytest

from eureka_embed.registry import Registry
from tests.wsgi.adapters import AppFactory
from tests.wsgi.helpers import JSON, json_of, register


def test_custom_base_paths_replace_the_default_ones(
    create_app: AppFactory, registry: Registry
) -> None:
    client = falcon.testing.TestClient(create_app(registry, base_paths=("/", "/discovery/")))

    register(client, base="")
    register(client, 2, base="/discovery")

    assert client.simulate_get("/apps", headers=JSON).status_code == 200
    assert client.simulate_get("/discovery/apps/ORDERS", headers=JSON).status_code == 200
    assert client.simulate_get("/eureka/apps").status_code == 404
    # The dashboard keeps "/" even with the API at the root.
    assert "ORDERS" in client.simulate_get("/dashboard/data").text


@pytest.mark.parametrize("base_paths", [(), ("eureka",), ("/eureka", "v2")])
def test_base_paths_must_be_absolute(
    create_app: AppFactory, registry: Registry, base_paths: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match="base_paths"):
        create_app(registry, base_paths=base_paths)


def test_a_negative_body_limit_is_refused(create_app: AppFactory, registry: Registry) -> None:
    with pytest.raises(ValueError, match="max_body_bytes"):
        create_app(registry, max_body_bytes=-1)


def test_a_zero_body_limit_refuses_every_body(create_app: AppFactory, registry: Registry) -> None:
    client = falcon.testing.TestClient(create_app(registry, max_body_bytes=0))

    result = client.simulate_post(
        "/eureka/apps/ORDERS", body=b"{}", headers={"Content-Type": "application/json"}
    )

    assert result.status_code == 413


def test_peers_with_awkward_values_still_give_valid_json_and_xml(
    create_app: AppFactory, registry: Registry
) -> None:
    peers = [
        {"url": "<http://peer/&>", "status": "UP", "bad key": "v", "ctl": "bell\x07", "n": 3},
        {"url": None, "since": object()},
    ]
    client = falcon.testing.TestClient(create_app(registry, peers_status=lambda: peers))

    as_json = json_of(client.simulate_get("/eureka/status", headers=JSON))["status"]["peers"]
    as_xml = ET.fromstring(client.simulate_get("/eureka/status").content)

    assert as_json[0]["url"] == "<http://peer/&>"
    assert as_json[0]["n"] == 3
    assert as_xml.findtext("peers/peer/url") == "<http://peer/&>"
    assert as_xml.findtext("peers/peer/ctl") == "bell\ufffd"
    assert client.simulate_get("/").status_code == 200
