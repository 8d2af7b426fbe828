"""Hostile requests over raw sockets to live nodes (both servers, memory and SQLite stores):
each is answered with a 4xx (or, for a body cut short, a closed connection), never a 5xx or a
hang; none is applied as a write; a valid registration after each one is acknowledged; and at
the end the registry holds exactly what was acknowledged. External XML entities point at a
listener of the test's, which must never be called."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.reliability.hostile import APP, TARGET_ID, Hostile, hostile_requests, send_raw
from tests.reliability.live import NODE_KINDS, live_node
from tests.server.support import JSON_HEADERS, register, register_body, request

pytestmark = pytest.mark.slow

#: Hostile requests per node kind (each followed by a valid registration);
#: ``EUREKA_EMBED_FUZZ_EXAMPLES`` changes it for a longer hunt than CI's.
EXAMPLES = int(os.environ.get("EUREKA_EMBED_FUZZ_EXAMPLES", "100"))


def status_of(answer: bytes) -> int | None:
    if not answer:
        return None
    line = answer.split(b"\r\n", 1)[0].split()
    assert len(line) >= 2 and line[0].startswith(b"HTTP/1."), answer[:200]
    return int(line[1])


def items_refused(answer: bytes) -> bool:
    """A replication batch answered 200, each of its items with a refusal."""
    body = answer.split(b"\r\n\r\n", 1)[1]
    if not body.startswith(b'{"responseList"'):
        return False
    results = json.loads(body)["responseList"]
    return all(result["statusCode"] >= 400 for result in results)


class Canary:
    """A TCP listener that counts connections: an external entity fetched would call it."""

    def __init__(self) -> None:
        self.calls = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/entity"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self.calls += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


@contextmanager
def canary() -> Iterator[Canary]:
    made = Canary()
    try:
        yield made
    finally:
        made.close()


def registry_view(base_url: str) -> dict[str, dict[str, Any]]:
    """Every instance by id, without what moves on its own (lease times, action type)."""
    answer = request(f"{base_url}apps", headers={"Accept": "application/json"})
    assert answer.status == 200
    view = {}
    for app in answer.json()["applications"]["application"]:
        for instance in app["instance"]:
            kept = {k: v for k, v in instance.items() if k not in ("leaseInfo", "actionType")}
            view[instance["instanceId"]] = kept
    return view


@pytest.mark.parametrize(("server", "store"), NODE_KINDS, ids=lambda kind: kind)
def test_hostile_requests_are_refused_and_leave_the_data_intact(
    server: str, store: str, tmp_path: Path
) -> None:
    with canary() as listener, live_node(server, store, tmp_path) as node:
        assert register(node.base_url, APP, TARGET_ID, port=1234) == 204
        before = registry_view(node.base_url)
        acknowledged = [TARGET_ID]

        @settings(
            max_examples=EXAMPLES,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            deadline=None,
        )
        @given(hostile_requests(listener.url))
        def hostile_then_valid(hostile: Hostile) -> None:
            answer = send_raw(node.port, hostile.data, half_close=hostile.incomplete)
            status = status_of(answer)
            if status is None:
                assert hostile.incomplete, f"closed without an answer: {hostile!r}"
            else:
                assert status < 500, (hostile, answer[:300])
                if hostile.write:
                    assert status >= 400 or items_refused(answer), (hostile, answer[:300])
            # Still serving, and still acknowledging writes.
            instance_id = f"ok-{len(acknowledged)}"
            body = register_body(APP, instance_id)
            posted = request(f"{node.base_url}apps/{APP}", "POST", body=body, headers=JSON_HEADERS)
            assert posted.status == 204, (hostile, posted)
            acknowledged.append(instance_id)

        hostile_then_valid()

        after = registry_view(node.base_url)
        assert sorted(after) == sorted(acknowledged)
        assert after[TARGET_ID] == before[TARGET_ID], json.dumps(after[TARGET_ID])
    assert listener.calls == 0, "an external entity was fetched"
