"""Two real ``eureka-embed serve`` processes on one PostgreSQL database: a watch on node B
(``GET apps/APP?index=N&wait=10s``) is answered on a write through node A, by LISTEN/NOTIFY.

Both nodes poll the change log only once a minute (the store URL's ``sync_interval=60``), so
an answer that shows the write, well within the watch's 10 s, was woken by the notification.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from eureka_embed.storage import migrate
from tests.databases import server_database_url
from tests.server.support import Response, ServeProcess, register, serve_process, wait_for
from tests.server.support import request as http
from tests.wsgi.watching import Held

INDEX = "x-eureka-index"
#: The watch's own wait; the store's poll (60 s) is far beyond it.
WAIT_S = 10
JSON = {"Accept": "application/json"}


@pytest.fixture
def nodes() -> Iterator[tuple[ServeProcess, ServeProcess]]:
    url = server_database_url("postgresql")
    engine = sa.create_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    args = ["--store", f"{url}?sync_interval=60"]
    with serve_process(args) as node_a, serve_process(args) as node_b:
        yield node_a, node_b


def index_of(base_url: str, app: str) -> int:
    answer = http(f"{base_url}apps/{app}", headers=JSON)
    return int(answer.headers[INDEX])


def instance_ids(answer_json: dict[str, object]) -> set[str]:
    application = answer_json["application"]
    assert isinstance(application, dict)
    return {entry["instanceId"] for entry in application["instance"]}


def watch(base_url: str, app: str, index: int) -> Held[Response]:
    url = f"{base_url}apps/{app}?index={index}&wait={WAIT_S}s"
    return Held(lambda: http(url, headers=JSON, timeout=WAIT_S + 5))


def test_a_watch_on_one_node_is_answered_by_a_write_through_the_other(
    nodes: tuple[ServeProcess, ServeProcess],
) -> None:
    node_a, node_b = nodes
    a, b = node_a.base_url, node_b.base_url
    assert register(a, "ORDERS", "o1") == 204
    # Node B learns of it by notification only (its poll is a minute away).
    wait_for(lambda: http(f"{b}apps/ORDERS", headers=JSON).status == 200, what="o1 on node b")

    for n in range(2, 5):
        index = index_of(b, "ORDERS")
        held = watch(b, "ORDERS", index)
        assert held.still_held_after(0.2)  # nothing changed yet: the watch waits

        assert register(a, "ORDERS", f"o{n}") == 204

        answer = held.result(timeout=WAIT_S + 5)
        assert answer.status == 200
        # Answered with the write: only a notification can have told node B in time.
        assert int(answer.headers[INDEX]) > index
        assert f"o{n}" in instance_ids(answer.json())
