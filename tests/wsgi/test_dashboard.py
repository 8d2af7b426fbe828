"""The HTML status page at ``/``: content, escaping of everything clients control, headers."""

from __future__ import annotations

from html.parser import HTMLParser

import falcon.testing
import pytest

from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.model import InstanceInfo, InstanceStatus
from eureka_embed.registry import Registry
from tests.wsgi.adapters import AppFactory
from tests.wsgi.helpers import instance_id, register

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class _Elements(HTMLParser):
    """Collects start tags with their attributes, and the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def test_the_page_lists_applications_instances_and_statuses(
    client: falcon.testing.TestClient,
) -> None:
    register(client, 1, statusPageUrl="http://host1:8080/info")
    register(client, 2)
    register(client, 1, app="BILLING")
    client.simulate_put(f"/eureka/apps/ORDERS/{instance_id(2)}/status", params={"value": "DOWN"})

    result = client.simulate_get("/")

    assert result.status_code == 200
    assert result.headers["Content-Type"].startswith("text/html")
    page = parse(result.text)
    text = " ".join(page.text)
    for expected in ("ORDERS", "BILLING", instance_id(1), instance_id(2), "DOWN", "UP"):
        assert expected in text
    badges = [attrs.get("class") for tag, attrs in page.tags if tag == "span"]
    assert "status status-DOWN" in badges
    assert "status status-UP" in badges
    links = [attrs.get("href") for tag, attrs in page.tags if tag == "a"]
    assert links == ["http://host1:8080/info"]


def test_the_page_shows_the_servers_health(
    create_app: AppFactory, registry: Registry, clock: ManualClock
) -> None:
    peers = [{"url": "http://peer-1:8761/eureka/", "status": "UP"}]
    client = falcon.testing.TestClient(create_app(registry, peers_status=lambda: peers))
    register(client)
    clock.advance(seconds=3 * 3600 + 61)

    text = " ".join(parse(client.simulate_get("/").text).text)

    assert "03:01:01" in text  # uptime
    assert "Lease expiration enabled" in text
    assert "Renews threshold" in text
    assert "Renews (last min)" in text
    assert "http://peer-1:8761/eureka/" in text


def test_the_page_warns_while_self_preservation_is_active(create_app: AppFactory) -> None:
    registry = Registry(config=RegistryConfig(self_preservation=True), clock=ManualClock())
    client = falcon.testing.TestClient(create_app(registry))

    assert "Self-preservation is active" in client.simulate_get("/").text


def test_an_empty_registry_says_so(client: falcon.testing.TestClient) -> None:
    text = client.simulate_get("/").text

    assert "No instances are registered" in text
    assert "No peers" in text


def test_it_is_made_for_phones_and_needs_nothing_external(
    client: falcon.testing.TestClient,
) -> None:
    result = client.simulate_get("/")
    page = parse(result.text)

    viewport = [attrs for tag, attrs in page.tags if tag == "meta" and attrs.get("name")]
    assert viewport == [{"name": "viewport", "content": "width=device-width, initial-scale=1"}]
    assert not [tag for tag, _ in page.tags if tag in ("script", "link", "img", "iframe")]
    assert "default-src 'none'" in result.headers["Content-Security-Policy"]
    assert result.headers["Cache-Control"] == "no-store"


def _hostile_instance() -> InstanceInfo:
    return InstanceInfo(
        instance_id=f"evil{XSS}",
        app=f"APP{XSS}".upper(),
        host_name=XSS,
        ip_addr="10.0.0.66",
        metadata={"note": XSS},
        status_page_url='http://evil/"><script>alert(2)</script>',
    )


def test_everything_from_instances_is_escaped(create_app: AppFactory, registry: Registry) -> None:
    registry.register(_hostile_instance())
    peers = [{"url": XSS, "status": XSS, XSS: "key"}]
    client = falcon.testing.TestClient(create_app(registry, peers_status=lambda: peers))

    html = client.simulate_get("/").text
    page = parse(html)

    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert not [tag for tag, _ in page.tags if tag in ("script", "img")]
    assert not [attrs for _, attrs in page.tags if any(k.startswith("on") for k in attrs)]
    # The text is still shown, as text.
    assert f"evil{XSS}" in "".join(page.text)
    links = [attrs.get("href") for tag, attrs in page.tags if tag == "a"]
    assert links == ['http://evil/"><script>alert(2)</script>']


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,<b>x</b>", "//evil"]
)
def test_only_http_status_pages_become_links(
    create_app: AppFactory, registry: Registry, url: str
) -> None:
    registry.register(
        InstanceInfo(
            "i-1", "ORDERS", "h", "10.0.0.1", status=InstanceStatus.UP, status_page_url=url
        )
    )
    client = falcon.testing.TestClient(create_app(registry))

    page = parse(client.simulate_get("/").text)

    assert [tag for tag, _ in page.tags if tag == "a"] == []
    assert "i-1" in "".join(page.text)


def test_the_dashboard_can_be_turned_off(create_app: AppFactory, registry: Registry) -> None:
    client = falcon.testing.TestClient(create_app(registry, dashboard=False))

    assert client.simulate_get("/").status_code == 404
