"""The dashboard's page and the data it loads: ``GET /``, ``GET /dashboard/data`` (what each
instance row holds, general information, the recent leases, the chart's samples, the watch) and
``POST /dashboard/actions`` (each action, its cross-site and role checks). The page's drawing
is tested in a browser: tests/integration/test_dashboard_browser.py."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from html.parser import HTMLParser
from typing import Any

import falcon.testing
import orjson
import pytest

from eureka_embed.asgi import create_app as create_asgi_app
from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.http.dashboard_data import COLUMNS
from eureka_embed.model import DataCenterInfo, InstanceInfo, InstanceStatus, PortInfo
from eureka_embed.registry import Registry
from tests.auth.support import authorization, basic_auth
from tests.client.support import instance
from tests.regions.support import REGION, region_rig
from tests.wsgi.adapters import AppFactory
from tests.wsgi.helpers import instance_id, register

ACTING = {"X-Eureka-Dashboard": "1", "Content-Type": "application/json"}


class _Elements(HTMLParser):
    """Collects start tags with their attributes, and the script's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def parse(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def data(client: falcon.testing.TestClient, **headers: str) -> dict[str, Any]:
    result = client.simulate_get("/dashboard/data", headers=headers)
    assert result.status_code == 200, result.text
    doc: dict[str, Any] = orjson.loads(result.content)
    return doc


def rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(zip(doc["columns"], row, strict=True)) for row in doc["instances"]]


def act(client: falcon.testing.TestClient, action: str, **headers: str) -> Any:
    body = orjson.dumps({"action": action, "app": "ORDERS", "id": instance_id()})
    return client.simulate_post("/dashboard/actions", body=body, headers={**ACTING, **headers})


# -- the page


def test_the_page_runs_only_its_own_script_and_fetches_nothing_elsewhere(
    client: falcon.testing.TestClient,
) -> None:
    result = client.simulate_get("/")
    page = parse(result.text)

    assert result.status_code == 200
    assert result.headers["Content-Type"].startswith("text/html")
    assert result.headers["Cache-Control"] == "no-store"
    policy = result.headers["Content-Security-Policy"]
    (script,) = page.scripts
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    # Nothing is loaded from anywhere: no src, and the only link is the empty data: icon.
    assert [attrs for _, attrs in page.tags if "src" in attrs] == []
    assert [attrs.get("href") for tag, attrs in page.tags if tag == "link"] == ["data:,"]
    # The one URL in the script is SVG's namespace, a name that is never fetched.
    assert re.findall(r"https?://[^\"']*", script) == ["http://www.w3.org/2000/svg"]
    viewport = [attrs for tag, attrs in page.tags if tag == "meta" and attrs.get("name")]
    assert viewport == [{"name": "viewport", "content": "width=device-width, initial-scale=1"}]


def test_the_title_is_escaped(create_app: AppFactory, registry: Registry) -> None:
    client = falcon.testing.TestClient(create_app(registry, title="<b>ops</b>"))

    html = client.simulate_get("/").text

    assert "<b>" not in html
    assert "&lt;b&gt;ops&lt;/b&gt;" in html


def test_the_dashboard_can_be_turned_off(create_app: AppFactory, registry: Registry) -> None:
    client = falcon.testing.TestClient(create_app(registry, dashboard=False))

    assert client.simulate_get("/").status_code == 404
    assert client.simulate_get("/dashboard/data").status_code == 404
    assert act(client, "deregister").status_code == 404


# -- the data


def test_each_instance_row_holds_what_the_page_shows(
    create_app: AppFactory, registry: Registry, clock: ManualClock
) -> None:
    client = falcon.testing.TestClient(create_app(registry))
    registry.register(
        InstanceInfo(
            "i-1",
            "ORDERS",
            "orders-1.internal",
            "10.0.0.7",
            port=PortInfo(8080, True),
            secure_port=PortInfo(8443, True),
            data_center_info=DataCenterInfo("Amazon", {"availability-zone": "eu-west-1a"}),
            metadata={"version": "1.2"},
            status_page_url=" http://orders-1:8080/info",
            health_check_url="javascript:alert(1)",
            home_page_url="https://orders-1/",
        )
    )
    clock.advance(seconds=5)
    registry.update_status("ORDERS", "i-1", InstanceStatus.OUT_OF_SERVICE)
    registry.register(InstanceInfo("i-2", "ORDERS", "h2", "10.0.0.8", metadata={"zone": "b"}))

    doc = data(client)

    assert tuple(doc["columns"]) == COLUMNS
    first, second = rows(doc)
    registered_at = registry.started_ms
    assert first == {
        "app": "ORDERS",
        "id": "i-1",
        "host": "orders-1.internal",
        "ip": "10.0.0.7",
        "port": 8080,
        "securePort": 8443,
        "status": "OUT_OF_SERVICE",
        "override": "OUT_OF_SERVICE",
        "zone": "eu-west-1a",
        "registeredAt": registered_at,
        "lastRenewalAt": registered_at + 5000,
        "statusPage": "http://orders-1:8080/info",
        "healthCheck": None,  # javascript: is never a link
        "homePage": "https://orders-1/",
        "metadata": {"version": "1.2"},
    }
    assert (second["port"], second["securePort"], second["zone"]) == (7001, 0, "b")
    assert second["override"] == ""


@pytest.mark.parametrize("url", ["javascript:alert(1)", " JavaScript:x", "data:text/html,x", "//e"])
def test_only_http_urls_are_sent_as_links(
    create_app: AppFactory, registry: Registry, url: str
) -> None:
    registry.register(InstanceInfo("i-1", "ORDERS", "h", "10.0.0.1", status_page_url=url))
    client = falcon.testing.TestClient(create_app(registry))

    assert rows(data(client))[0]["statusPage"] is None


def test_general_information(
    create_app: AppFactory, registry: Registry, clock: ManualClock
) -> None:
    peers = [{"url": "http://peer-1:8761/eureka/", "status": "UP", "queueLength": 3}]
    client = falcon.testing.TestClient(create_app(registry, peers_status=lambda: peers))
    register(client)
    clock.advance(seconds=3 * 3600 + 61)

    info = data(client)["info"]

    assert info["uptime"] == "03:01:01"
    assert info["version"] == "0.1.0"
    assert info["store"] == "MemoryStore"
    assert info["server"] == ("embedded ASGI" if create_app is create_asgi_app else "embedded WSGI")
    assert info["cpus"] >= 1
    assert info["memoryBytes"] is None or info["memoryBytes"] > 1 << 20
    assert info["peers"] == peers
    assert info["remoteRegions"] == []
    assert info["instances"] == 1
    for key in ("renewsThreshold", "renewsLastMinute", "selfPreservationActive", "now"):
        assert key in info


def test_general_information_lists_the_remote_regions(
    create_app: AppFactory, registry: Registry, clock: ManualClock
) -> None:
    rig = region_rig(clock)
    rig.remote.register(instance(1, "BILLING"))
    rig.remote.register(instance(2, "BILLING"))
    rig.follower.start()
    fetched_at = clock.now_ms()
    client = falcon.testing.TestClient(create_app(registry, remote_regions=rig.regions()))
    try:
        (region,) = data(client)["info"]["remoteRegions"]
        assert region == {
            "name": REGION,
            "url": rig.follower.region.url,
            "lastSuccessAt": fetched_at,
            "instances": 2,
            "ok": True,
        }

        rig.tap.down = True
        rig.advance(30)

        (region,) = data(client)["info"]["remoteRegions"]
        assert (region["ok"], region["lastSuccessAt"], region["instances"]) == (
            False,
            fetched_at,
            2,
        )
    finally:
        rig.follower.stop()


def test_the_data_is_gzipped_for_a_browser(client: falcon.testing.TestClient) -> None:
    for n in range(1, 50):
        register(client, n)

    result = client.simulate_get("/dashboard/data", headers={"Accept-Encoding": "gzip, br"})

    assert result.headers["Content-Encoding"] == "gzip"
    assert len(orjson.loads(gzip.decompress(result.content))["instances"]) == 49


def test_registrations_cancels_and_evictions_are_remembered_newest_first(
    create_app: AppFactory, clock: ManualClock
) -> None:
    registry = Registry(config=RegistryConfig(self_preservation=False), clock=clock)
    client = falcon.testing.TestClient(create_app(registry))
    register(client, 1)
    clock.advance(seconds=1)
    register(client, 2)
    clock.advance(seconds=1)
    client.simulate_delete(f"/eureka/apps/ORDERS/{instance_id(1)}")
    clock.advance(seconds=200)  # host2's lease (90 s) has run out
    registry.evict()

    doc = data(client)
    start = registry.started_ms

    assert doc["registered"] == [
        [start + 1000, "registered", "ORDERS", instance_id(2)],
        [start, "registered", "ORDERS", instance_id(1)],
    ]
    assert doc["ended"] == [
        [start + 202_000, "evicted", "ORDERS", instance_id(2)],
        [start + 2000, "cancelled", "ORDERS", instance_id(1)],
    ]
    registry.close()


def test_the_chart_keeps_one_sample_a_minute_for_an_hour(
    create_app: AppFactory, registry: Registry, clock: ManualClock
) -> None:
    client = falcon.testing.TestClient(create_app(registry))
    clock.advance(seconds=60 - (clock.now_ms() // 1000) % 60)  # at a minute's start
    minute = clock.now_ms()

    def chart() -> tuple[list[list[int]], int]:
        return data(client)["chart"], registry.renews_last_minute()

    register(client, 1)
    first, renews_1 = chart()
    clock.advance(seconds=30)
    register(client, 2)
    client.simulate_put(f"/eureka/apps/ORDERS/{instance_id(1)}")  # renewals
    client.simulate_put(f"/eureka/apps/ORDERS/{instance_id(2)}")
    clock.advance(seconds=29)
    same_minute, renews_2 = chart()
    clock.advance(seconds=60)
    next_minute, renews_3 = chart()
    clock.advance(seconds=90 * 60)
    later, renews_4 = chart()

    assert first == [[minute, renews_1, 1]]
    assert same_minute == [[minute, renews_2, 2]]  # the minute's sample, replaced
    assert next_minute == [[minute, renews_2, 2], [minute + 60_000, renews_3, 2]]
    assert 2 in (renews_2, renews_3)  # the renewals showed up in the minute after theirs
    # 90 minutes on, both are older than the hour shown.
    assert later == [[minute + 91 * 60_000, renews_4, 2]]


def test_the_data_is_watched_like_apps(client: falcon.testing.TestClient) -> None:
    first = client.simulate_get("/dashboard/data")
    index = first.headers["X-Eureka-Index"]

    unchanged = client.simulate_get("/dashboard/data", params={"index": index, "wait": "10ms"})
    register(client)
    changed = client.simulate_get("/dashboard/data", params={"index": index, "wait": "10s"})

    assert unchanged.headers["X-Eureka-Index"] == index
    assert changed.headers["X-Eureka-Index"] != index
    assert len(orjson.loads(changed.content)["instances"]) == 1
    assert client.simulate_get("/dashboard/data", params={"index": "x"}).status_code == 400


# -- the actions


@pytest.mark.parametrize(
    ("action", "status", "override"),
    [
        ("out_of_service", "OUT_OF_SERVICE", "OUT_OF_SERVICE"),
        ("in_service", "UP", "UP"),
        ("remove_override", "UNKNOWN", ""),
    ],
)
def test_each_status_action(
    client: falcon.testing.TestClient, action: str, status: str, override: str
) -> None:
    register(client)
    act(client, "out_of_service")

    result = act(client, action)

    assert result.status_code == 200, result.text
    assert orjson.loads(result.content) == {"done": action, "app": "ORDERS", "id": instance_id()}
    (row,) = rows(data(client))
    assert (row["status"], row["override"]) == (status, override)


def test_deregister(client: falcon.testing.TestClient) -> None:
    register(client)

    assert act(client, "deregister").status_code == 200
    assert data(client)["instances"] == []
    assert act(client, "deregister").status_code == 404


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "JSON object"),
        (b"[1]", "JSON object"),
        (b'{"action": "explode", "app": "ORDERS", "id": "x"}', "action must be one of"),
        (b'{"action": "deregister", "app": "", "id": "x"}', "non-empty strings"),
    ],
)
def test_a_malformed_action_is_a_400_with_the_reason(
    client: falcon.testing.TestClient, body: bytes, reason: str
) -> None:
    result = client.simulate_post("/dashboard/actions", body=body, headers=ACTING)

    assert result.status_code == 400
    assert reason in result.text


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Eureka-Dashboard": ""},  # removed below: a form cannot send it
        {"Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_cross_site_actions_are_refused(
    client: falcon.testing.TestClient, headers: dict[str, str]
) -> None:
    register(client)
    sent = {**ACTING, **headers}
    if headers == {"X-Eureka-Dashboard": ""}:
        del sent["X-Eureka-Dashboard"]

    result = client.simulate_post(
        "/dashboard/actions",
        body=orjson.dumps({"action": "deregister", "app": "ORDERS", "id": instance_id()}),
        headers=sent,
    )

    assert result.status_code == 403
    assert len(data(client)["instances"]) == 1


def test_a_same_origin_action_is_accepted(client: falcon.testing.TestClient) -> None:
    register(client)
    # falcon's TestClient sends Host: falconframework.org
    same = {"Origin": "http://falconframework.org", "Sec-Fetch-Site": "same-origin"}

    assert act(client, "deregister", **same).status_code == 200


def test_with_auth_only_admin_may_act(create_app: AppFactory, registry: Registry) -> None:
    client = falcon.testing.TestClient(create_app(registry, auth=basic_auth()))
    registry.register(InstanceInfo(instance_id(), "ORDERS", "host1", "10.0.0.1"))

    assert data(client, **authorization("reader"))["canAct"] is False
    assert data(client, **authorization("ops"))["canAct"] is True
    assert act(client, "out_of_service").status_code == 401
    assert act(client, "out_of_service", **authorization("reader")).status_code == 403
    assert act(client, "out_of_service", **authorization("orders")).status_code == 403
    assert act(client, "out_of_service", **authorization("ops")).status_code == 200
    assert registry.get_instance("ORDERS", instance_id()).status is InstanceStatus.OUT_OF_SERVICE  # type: ignore[union-attr]


def test_without_auth_anyone_may_act(client: falcon.testing.TestClient) -> None:
    assert data(client)["canAct"] is True
