"""A database outage seen over HTTP: writes answer 503 with a reason, reads keep answering."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from falcon import testing

from eureka_embed.registry import Registry
from eureka_embed.storage.sql import SqlStore
from tests.databases import FlakyDatabase, server_database_url, sqlite_file_url
from tests.server.support import register_body
from tests.wsgi.adapters import AppFactory

JSON = {"Content-Type": "application/json", "Accept": "application/json"}


@pytest.fixture(params=["sqlite-file", "postgresql", "mariadb"])
def flaky(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FlakyDatabase]:
    if request.param == "sqlite-file":
        url = sqlite_file_url(tmp_path)
    else:
        url = server_database_url(request.param)
    database = FlakyDatabase(url)
    yield database
    database.dispose()


def test_outage_gives_503_on_writes_and_keeps_reads_and_recovers(
    create_app: AppFactory, flaky: FlakyDatabase
) -> None:
    store = SqlStore(flaky.engine, migrate_schema=True, background=False)
    client = testing.TestClient(create_app(Registry(store)))
    assert (
        client.simulate_post(
            "/eureka/apps/ORDERS", body=register_body("ORDERS", "o1"), headers=JSON
        ).status_code
        == 204
    )
    before = client.simulate_get("/eureka/apps", headers=JSON)
    assert before.status_code == 200

    flaky.down = True
    refused = client.simulate_post(
        "/eureka/apps/ORDERS", body=register_body("ORDERS", "o2"), headers=JSON
    )
    assert refused.status_code == 503
    assert "database" in refused.text
    assert "Traceback" not in refused.text
    assert refused.headers.get("retry-after")
    assert client.simulate_delete("/eureka/apps/ORDERS/o1").status_code == 503
    during = client.simulate_get("/eureka/apps", headers=JSON)
    assert during.status_code == 200
    assert during.content == before.content
    assert client.simulate_put("/eureka/apps/ORDERS/o1").status_code == 200  # heartbeats go on

    flaky.down = False
    assert (
        client.simulate_post(
            "/eureka/apps/ORDERS", body=register_body("ORDERS", "o2"), headers=JSON
        ).status_code
        == 204
    )
    after = client.simulate_get("/eureka/apps/ORDERS", headers=JSON).json
    assert {i["instanceId"] for i in after["application"]["instance"]} == {"o1", "o2"}
    store.close()


def test_the_delta_is_served_from_memory_while_the_database_is_down(
    create_app: AppFactory,
    flaky: FlakyDatabase,
) -> None:
    store = SqlStore(flaky.engine, migrate_schema=True, background=False)
    client = testing.TestClient(create_app(Registry(store)))
    try:
        for instance_id in ("o1", "o2"):
            body = register_body("ORDERS", instance_id)
            answer = client.simulate_post("/eureka/apps/ORDERS", body=body, headers=JSON)
            assert answer.status_code == 204
        # No delta read before the outage: the answer cannot come from the payload cache.
        flaky.down = True
        during = client.simulate_get("/eureka/apps/delta", headers=JSON)
        assert during.status_code == 200, during.text
        delta = during.json["applications"]
        assert delta["apps__hashcode"] == "UP_2_"
        assert {i["instanceId"] for i in delta["application"][0]["instance"]} == {"o1", "o2"}
    finally:
        flaky.down = False
        store.close()
