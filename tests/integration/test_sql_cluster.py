"""Real ``eureka-embed serve`` processes over SQL stores: shared-database clusters and
durability of the default SQLite file."""

from __future__ import annotations

import itertools
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa

from eureka_embed.client import DiscoveryClient, DiscoveryConfig
from eureka_embed.storage import migrate
from eureka_embed.storage.sql_schema import changes
from tests.databases import server_database_url
from tests.server.support import (
    ServeProcess,
    app_instances,
    live_instance,
    register,
    register_at_once,
    register_short_lease,
    serve_process,
    wait_for,
)
from tests.server.support import request as http


def has_no_instances(base_url: str, app: str) -> bool:
    return app_instances(base_url, app) == []


@pytest.fixture(params=["postgresql", "mariadb"])
def shared_url(request: pytest.FixtureRequest) -> str:
    url = server_database_url(request.param)
    engine = sa.create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def cluster(shared_url: str) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    args = ["--store", shared_url, "--eviction-interval", "1", "--no-self-preservation"]
    with serve_process(args) as node_a, serve_process(args) as node_b:
        yield node_a, node_b


def seen_within(
    base_url: str, app: str, instance_id: str, predicate: object, seconds: float
) -> None:
    started = time.monotonic()

    def probe() -> bool:
        found = live_instance(base_url, app, instance_id)
        return bool(predicate(found))  # type: ignore[operator]

    wait_for(probe, timeout=seconds, what=f"{app}/{instance_id} on {base_url}")
    assert time.monotonic() - started <= seconds


def test_writes_through_one_node_are_visible_through_the_other_within_a_second(
    cluster: tuple[ServeProcess, ServeProcess],
) -> None:
    node_a, node_b = cluster
    a, b = node_a.base_url, node_b.base_url
    assert register(a, "ORDERS", "o1") == 204
    seen_within(b, "ORDERS", "o1", lambda found: found is not None, 1.0)

    answer = http(f"{a}apps/ORDERS/o1/status?value=OUT_OF_SERVICE", "PUT")
    assert answer.status == 200
    seen_within(b, "ORDERS", "o1", lambda f: f and f["status"] == "OUT_OF_SERVICE", 1.0)

    assert http(f"{b}apps/ORDERS/o1", "DELETE").status == 200
    seen_within(a, "ORDERS", "o1", lambda found: found is None, 1.0)


def test_concurrent_writes_through_both_nodes_end_with_the_newest_dirty_timestamp(
    cluster: tuple[ServeProcess, ServeProcess],
) -> None:
    node_a, node_b = cluster
    for round_ in range(5):
        instance_id = f"race{round_}"
        newer, older = 2000 + round_, 1000 + round_
        statuses = register_at_once(
            [
                (node_a.base_url, instance_id, newer, 1111),
                (node_b.base_url, instance_id, older, 2222),
            ]
        )
        assert statuses == [204, 204]
        for node in cluster:
            seen_within(
                node.base_url,
                "RACE",
                instance_id,
                lambda f, ldt=newer: f and f["lastDirtyTimestamp"] == str(ldt),
                1.0,
            )
            found = live_instance(node.base_url, "RACE", instance_id)
            assert found is not None
            assert found["port"]["$"] == 1111  # the newer registration's content


def test_an_expired_lease_is_evicted_once_not_once_per_node(
    cluster: tuple[ServeProcess, ServeProcess], shared_url: str
) -> None:
    assert register_short_lease(cluster[0].base_url, "SHORT", "s1", seconds=1) == 204
    for node in cluster:
        seen_within(node.base_url, "SHORT", "s1", lambda found: found is not None, 1.0)
    for node in cluster:
        wait_for(partial(has_no_instances, node.base_url, "SHORT"), timeout=10, what="eviction")
    time.sleep(1.5)  # both nodes run their eviction at least once more
    engine = sa.create_engine(shared_url)
    try:
        with engine.connect() as conn:
            deleted = conn.execute(
                sa.select(sa.func.count())
                .select_from(changes)
                .where(changes.c.instance_id == "s1", changes.c.action == "DELETED")
            ).scalar_one()
    finally:
        engine.dispose()
    assert deleted == 1


def test_a_client_following_the_other_node_sees_every_delta_agree_and_nothing_vanish(
    cluster: tuple[ServeProcess, ServeProcess],
) -> None:
    """Registrations through A, read through B by a DiscoveryClient polling deltas.

    A delta and its apps hashcode must come from one view of B's registry: when they did not
    (the delta read the database, the hashcode B's memory), nearly every delta mismatched, the
    client fetched everything, and instances it had seen vanished until B synced.
    """
    node_a, node_b = cluster
    a, b = node_a.base_url, node_b.base_url
    # A client with an empty cache always fetches everything: give it something first.
    assert register(a, "FLICKER", "seed") == 204
    seen_within(b, "FLICKER", "seed", lambda found: found is not None, 5.0)
    config = DiscoveryConfig(
        "watcher",
        service_urls=b,
        register_with_eureka=False,
        registry_fetch_interval_s=0.1,
        # Polled, as the docstring says: a watch wakes once per sync of B, too few deltas.
        watch=False,
    )
    # The instances the client shows, sampled in one thread so the list is in time order.
    views: list[frozenset[str]] = []
    done = threading.Event()

    def sample(client: DiscoveryClient) -> None:
        while not done.is_set():
            members = client.get_instances("FLICKER", include_all=True)
            current = frozenset(i.instance_id for i in members)
            if not views or views[-1] != current:
                views.append(current)
            done.wait(0.002)

    registrations = 60
    wanted = {"seed", *(f"f{n}" for n in range(registrations))}
    with DiscoveryClient(config) as client:
        sampler = threading.Thread(target=sample, args=(client,))
        sampler.start()
        try:
            for n in range(registrations):
                assert register(a, "FLICKER", f"f{n}") == 204
                time.sleep(0.03)  # spread over several of B's syncs and the client's refreshes
            wait_for(
                lambda: bool(views) and views[-1] >= wanted,
                timeout=20,
                what="every registration on the client following node B",
            )
        finally:
            done.set()
            sampler.join(10)
        stats = client.stats()
    vanished = [sorted(before - after) for before, after in itertools.pairwise(views)]
    vanished = [ids for ids in vanished if ids]
    assert stats.reconcile_mismatches == 0
    assert vanished == [], "instances the client had seen disappeared again"
    assert stats.full_fetches == 1  # the first one only
    assert stats.delta_fetches > 10


# -- the standalone server's default SQLite file


def test_every_acknowledged_registration_survives_kill_9(tmp_path: Path) -> None:
    database = tmp_path / "eureka.db"
    args = ["--store", f"sqlite:///{database}"]
    acknowledged: list[str] = []
    stop = threading.Event()
    with serve_process(args) as server:
        base_url = server.base_url

        def burst() -> None:
            for n in range(5000):
                if stop.is_set():
                    return
                try:
                    status = register(base_url, "BURST", f"b{n}")
                except OSError:
                    return  # the server died under us: what it acknowledged is what counts
                if status == 204:
                    acknowledged.append(f"b{n}")

        writer = threading.Thread(target=burst)
        writer.start()
        wait_for(lambda: len(acknowledged) >= 200, timeout=20, what="a burst of registrations")
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        stop.set()
        writer.join(20)

    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with serve_process(args) as restarted:
        listed = {i["instanceId"] for i in app_instances(restarted.base_url, "BURST")}
    missing = set(acknowledged) - listed
    assert not missing, (
        f"{len(missing)} acknowledged registrations lost, e.g. {sorted(missing)[:5]}"
    )


def test_restored_leases_get_a_renewal_window_before_eviction(tmp_path: Path) -> None:
    args = [
        "--store",
        f"sqlite:///{tmp_path / 'eureka.db'}",
        "--eviction-interval",
        "1",
        "--no-self-preservation",
    ]
    with serve_process(args) as server:
        assert register_short_lease(server.base_url, "GRACE", "g1", seconds=3) == 204
        server.send_signal(signal.SIGTERM)
        assert server.wait() == 0
    time.sleep(4)  # longer than the lease: it expired while the server was down
    with serve_process(args) as restarted:
        assert live_instance(restarted.base_url, "GRACE", "g1") is not None
        time.sleep(1.5)  # an eviction run has passed: still within the grace window
        assert live_instance(restarted.base_url, "GRACE", "g1") is not None
        wait_for(
            lambda: live_instance(restarted.base_url, "GRACE", "g1") is None,
            timeout=10,
            what="eviction after the grace window",
        )


def test_a_fresh_sqlite_file_is_upgraded_quietly_before_the_ready_line(tmp_path: Path) -> None:
    with serve_process(["--store", f"sqlite:///{tmp_path / 'new.db'}"]) as server:
        lines = list(server.stderr.lines)
    assert lines, "the ready line"
    assert "serving on" in lines[0]
    assert not [line for line in lines if "alembic" in line]
