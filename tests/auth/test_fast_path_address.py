"""The ASGI fast paths (heartbeats, watches) and Falcon count a client's failed logins under one
address, also when the ASGI scope carries none (falcon.testing sends none; uvicorn none over a
Unix socket): a throttled address cannot go on through heartbeats."""

from __future__ import annotations

import falcon.testing
import pytest

from eureka_embed.asgi import create_app
from eureka_embed.registry import Registry
from eureka_embed.storage import MemoryStore
from tests.auth.support import authorization, basic_auth
from tests.wsgi.helpers import instance_id, json_body

HEARTBEAT = f"/eureka/apps/ORDERS/{instance_id(1)}"
WRONG = authorization("ops", "wrong")


def _client() -> falcon.testing.TestClient:
    client = falcon.testing.TestClient(create_app(Registry(MemoryStore()), auth=basic_auth()))
    headers = {**authorization("ops"), "Content-Type": "application/json"}
    assert (
        client.simulate_post("/eureka/apps/ORDERS", body=json_body(), headers=headers).status_code
        == 204
    )
    assert client.simulate_put(HEARTBEAT, headers=authorization("ops")).status_code == 200
    return client


@pytest.mark.parametrize("failing_through", ["falcon", "heartbeats"])
def test_failures_on_either_path_throttle_both(failing_through: str) -> None:
    client = _client()
    for _ in range(20):
        if failing_through == "falcon":
            wrong = client.simulate_get("/eureka/apps", headers=WRONG)
        else:
            wrong = client.simulate_put(HEARTBEAT, headers=WRONG)
        assert wrong.status_code == 401

    heartbeat = client.simulate_put(HEARTBEAT, headers=authorization("ops"))
    read = client.simulate_get("/eureka/apps", headers=authorization("ops"))

    assert (heartbeat.status_code, read.status_code) == (429, 429)
    assert heartbeat.headers["Retry-After"].isdigit()
