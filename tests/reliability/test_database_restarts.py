"""Database restarts under load: two nodes sharing a private PostgreSQL (and a private MariaDB)
take registrations, heartbeats and reads while the database is stopped and started again,
twice: once stopped cleanly, once killed (recovering from its log at the start). While it is
down, writes answer 503 and reads keep answering; once it is back, each node acknowledges
writes again within 5 s, with no restart of its own; nothing acknowledged is lost; and no
answer is a 5xx other than 503."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Final

import pytest
import sqlalchemy as sa

from eureka_embed.registry import Registry
from eureka_embed.server import EurekaServer
from eureka_embed.storage.sql import SqlStore
from eureka_embed.testing import config_for_tests
from tests.reliability.private_databases import PrivateServer, private_mariadb, private_postgres
from tests.server.support import app_instances, register, request, wait_for

pytestmark = pytest.mark.slow

APP: Final = "RESTART"
RESTARTS: Final = 2
DOWN_S: Final = 1.5
RECOVER_S: Final = 5.0
WRITERS: Final = 3


@dataclass(frozen=True)
class Answer:
    kind: str  # write, heartbeat, read
    started: float
    status: int
    ended: float


@dataclass
class Load:
    """Writers, heartbeats and readers against every node until stopped; what they saw."""

    base_urls: list[str]
    answers: list[Answer] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    ids: Iterator[int] = field(default_factory=itertools.count)

    def _record(self, kind: str, started: float, status: int) -> None:
        self.answers.append(Answer(kind, started, status, time.monotonic()))

    def writer(self, n: int) -> None:
        while not self.stop.is_set():
            instance_id = f"w{n}-{next(self.ids)}"
            started = time.monotonic()
            status = register(self.base_urls[n % len(self.base_urls)], APP, instance_id)
            self._record("write", started, status)
            if status == 204:
                self.acknowledged.append(instance_id)
            time.sleep(0.01)

    def heartbeats(self) -> None:
        while not self.stop.is_set():
            for node, instance_id in zip(itertools.cycle(self.base_urls), self.acknowledged[-20:]):
                started = time.monotonic()
                status = request(f"{node}apps/{APP}/{instance_id}", "PUT").status
                self._record("heartbeat", started, status)
            time.sleep(0.05)

    def reader(self) -> None:
        while not self.stop.is_set():
            for node in self.base_urls:
                started = time.monotonic()
                status = request(f"{node}apps", headers={"Accept": "application/json"}).status
                self._record("read", started, status)
            time.sleep(0.02)

    @contextmanager
    def running(self) -> Iterator[Load]:
        workers: list[Callable[[], None]] = [self.heartbeats, self.reader]
        threads = [threading.Thread(target=work, daemon=True) for work in workers]
        threads += [
            threading.Thread(target=self.writer, args=(n,), daemon=True) for n in range(WRITERS)
        ]
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(15)

    def between(self, kind: str, start: float, end: float) -> list[int]:
        """What requests sent and answered wholly within ``start``..``end`` got: one still
        waiting when the database comes back may well be written then (the store tries again
        within its deadline), and its 204 is right."""
        return [
            a.status
            for a in self.answers
            if a.kind == kind and start <= a.started and a.ended < end
        ]


@contextmanager
def two_nodes(url: str) -> Iterator[list[EurekaServer]]:
    with ExitStack() as stack:
        nodes = []
        for _ in range(2):
            store = SqlStore(url, migrate_schema=True)
            registry = Registry(store, config_for_tests(), owns_store=True)
            stack.callback(registry.close)
            node = EurekaServer(registry, host="127.0.0.1", port=0, threads=8)
            nodes.append(stack.enter_context(node))
        yield nodes


def lists_all(base_url: str, instance_ids: list[str]) -> bool:
    return set(instance_ids) <= {i["instanceId"] for i in app_instances(base_url, APP)}


def recovery_time(base_url: str, since: float) -> float:
    """Seconds from ``since`` to the first write this node acknowledges."""
    probe = itertools.count()
    wait_for(
        lambda: register(base_url, APP, f"probe-{next(probe)}") == 204,
        timeout=RECOVER_S + 5,
        what="a write acknowledged after the database came back",
    )
    return time.monotonic() - since


def run_restarts(database: PrivateServer) -> list[float]:
    recoveries = []
    with two_nodes(database.url) as nodes:
        urls = [node.base_url for node in nodes]
        with Load(urls).running() as load:
            time.sleep(0.5)
            for restart in range(RESTARTS):
                database.stop(crash=restart % 2 == 1)  # a clean stop, then a crash
                down_from = time.monotonic()
                time.sleep(DOWN_S)
                down_until = time.monotonic()
                database.start()
                back = time.monotonic()
                recoveries += [recovery_time(url, back) for url in urls]
                time.sleep(0.5)

                writes_down = load.between("write", down_from, down_until)
                reads_down = load.between("read", down_from, down_until)
                assert writes_down and set(writes_down) == {503}, writes_down
                assert reads_down and set(reads_down) == {200}, reads_down

        statuses = {a.status for a in load.answers}
        assert not {s for s in statuses if s >= 500} - {503}, statuses
        assert load.acknowledged, "no write was acknowledged"
        for url in urls:  # the other node's writes arrive by sync: allow it the interval
            wait_for(
                partial(lists_all, url, load.acknowledged),
                timeout=10,
                what=f"every acknowledged registration listed by {url}",
            )
    engine = sa.create_engine(database.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT instance_id FROM eureka_leases WHERE app = :a"), {"a": APP}
            )
            stored = {row[0] for row in rows}
    finally:
        engine.dispose()
    assert set(load.acknowledged) <= stored
    return recoveries


def test_postgresql_restarts_under_load() -> None:
    with private_postgres() as database:
        recoveries = run_restarts(database)
    assert max(recoveries) < RECOVER_S, recoveries


def test_mariadb_restarts_under_load() -> None:
    with private_mariadb() as database:
        recoveries = run_restarts(database)
    assert max(recoveries) < RECOVER_S, recoveries
