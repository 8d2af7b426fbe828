"""``create_app(auth=...)`` as an embedding application uses it: its own check, watches, and
what stays untouched (in-process calls, apps without ``auth``)."""

from __future__ import annotations

import time

import falcon.testing
import pytest

from eureka_embed.auth import Identity
from eureka_embed.codec import WireFormat, decode_instance
from eureka_embed.http.messages import EndpointRequest
from eureka_embed.registry import Registry
from tests.auth.support import authorization, basic_auth
from tests.wsgi.adapters import ADAPTERS, ThreadedAsgiClient
from tests.wsgi.helpers import json_body

BEAT = "/eureka/apps/ORDERS/host1:orders:8080"


def _host_check(req: EndpointRequest) -> Identity | None:
    """A host application's token check: the roles come from its own user store."""
    token = req.header("x-api-token")
    if token == "deploy-bot":
        return Identity.of("deploy-bot", ["register"], ["orders"])
    if token == "dashboard":
        return Identity.of("dashboard", ["read"])
    return None


@pytest.fixture
def registry() -> Registry:
    made = Registry()
    made.register(decode_instance(json_body(), WireFormat.JSON, now_ms=1000))
    return made


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_the_host_applications_own_check(adapter: str, registry: Registry) -> None:
    client = falcon.testing.TestClient(ADAPTERS[adapter](registry, auth=_host_check))
    bot, board = {"X-Api-Token": "deploy-bot"}, {"X-Api-Token": "dashboard"}
    assert client.simulate_put(BEAT, headers=bot).status_code == 200
    assert client.simulate_get("/eureka/apps", headers=board).status_code == 200
    refused = client.simulate_put(BEAT, headers=board)
    assert (refused.status_code, refused.text) == (
        403,
        "dashboard lacks the register or admin role\n",
    )
    other = client.simulate_delete("/eureka/apps/BILLING/b1", headers=bot)
    assert other.status_code == 403 and "'BILLING'" in other.text
    nobody = client.simulate_get("/eureka/apps")
    assert nobody.status_code == 401
    assert nobody.headers["www-authenticate"] == 'Basic realm="eureka"'


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_without_auth_everything_stays_open(adapter: str, registry: Registry) -> None:
    client = falcon.testing.TestClient(ADAPTERS[adapter](registry))
    replication = {"x-netflix-discovery-replication": "true"}
    assert client.simulate_put(BEAT, headers=replication).status_code == 200
    assert client.simulate_delete(BEAT).status_code == 200


def test_in_process_calls_are_not_affected(registry: Registry) -> None:
    ADAPTERS["wsgi"](registry, auth=basic_auth())
    registry.cancel("ORDERS", "host1:orders:8080")
    assert registry.get_instance("ORDERS", "host1:orders:8080") is None


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_a_refused_watch_is_answered_before_it_waits(adapter: str, registry: Registry) -> None:
    app = ADAPTERS[adapter](registry, auth=basic_auth())
    client = ThreadedAsgiClient(app) if adapter == "asgi" else falcon.testing.TestClient(app)
    index = client.simulate_get("/eureka/apps", headers=authorization("reader")).headers[
        "x-eureka-index"
    ]
    started = time.monotonic()
    refused = client.simulate_get(
        "/eureka/apps", query_string=f"index={index}&wait=20s", headers=authorization("ops", "x")
    )
    assert refused.status_code == 401
    assert time.monotonic() - started < 10  # the watch would have held it 20 s
    # Allowed, the same watch waits (cut short by a change; the header proves it watched).
    registry.cancel("ORDERS", "host1:orders:8080")
    allowed = client.simulate_get(
        "/eureka/apps", query_string=f"index={index}&wait=20s", headers=authorization("reader")
    )
    assert allowed.status_code == 200
    assert allowed.headers["x-eureka-index"] != index
