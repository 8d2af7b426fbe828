"""Group commit over SQLite: concurrent writes share transactions, each answered after its
commit, a failed commit fails every write of its batch; and a reload holds exactly what was
written, as lean as the store that wrote it."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from falcon import testing

from eureka_embed.codec import instance_to_dict
from eureka_embed.errors import StorageError
from eureka_embed.model import ActionType
from eureka_embed.registry import Registry
from eureka_embed.storage import LeaseRecord, Write
from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_engine import SqlTimeouts, create_store_engine
from eureka_embed.wsgi import create_app
from tests.databases import FlakyDatabase, sqlite_file_url
from tests.registry.helpers import instance
from tests.server.support import register_body, wait_for

# Concurrent requests through the WSGI app (falcon's ASGI test client runs one at a time).
JSON = {"Content-Type": "application/json", "Accept": "application/json"}
WRITERS = 16


def lease(n: int, **changes: Any) -> LeaseRecord:
    return LeaseRecord(instance(n, **changes), duration_ms=90_000, last_renewal_ms=1_000)


def put(store: SqlStore, record: LeaseRecord) -> None:
    def fn(_: LeaseRecord | None) -> tuple[Write, None]:
        return Write(record, ActionType.ADDED, change_ms=1_000), None

    store.mutate(record.app, record.instance_id, fn)


def count_commits(engine: sa.Engine) -> list[int]:
    commits: list[int] = []
    sa.event.listen(engine, "commit", lambda _conn: commits.append(1))
    return commits


@contextmanager
def database_locked(path: Path) -> Iterator[None]:
    """Another process's writer holds SQLite's write lock: this store's writers queue up."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
        other.execute("COMMIT")
    finally:
        other.close()


def run_all(work: Callable[[int], None], count: int) -> dict[int, BaseException]:
    """``work(n)`` for n in range(count), each on its own thread; the errors by n."""
    errors: dict[int, BaseException] = {}

    def one(n: int) -> None:
        try:
            work(n)
        except BaseException as exc:
            errors[n] = exc

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


def queued(store: SqlStore, writers: int) -> None:
    assert store._group is not None
    group = store._group
    wait_for(lambda: group.waiting >= writers or None, timeout=10, what="writers queued")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "eureka.db"


@pytest.fixture
def store(path: Path) -> Iterator[SqlStore]:
    made = SqlStore(f"sqlite:///{path}", migrate_schema=True, background=False)
    try:
        yield made
    finally:
        made.close()


def test_concurrent_writes_share_commits_and_are_all_durable(store: SqlStore, path: Path) -> None:
    commits = count_commits(store.engine)
    with database_locked(path):
        leader = threading.Thread(target=put, args=(store, lease(0)))
        leader.start()
        queued(store, 0)  # the first write took the turn and waits for the lock
        wait_for(lambda: (store._group is not None and store._group._leading) or None)
        errors_box: list[dict[int, BaseException]] = []
        others = threading.Thread(
            target=lambda: errors_box.append(run_all(lambda n: put(store, lease(n + 1)), WRITERS))
        )
        others.start()
        queued(store, WRITERS)
    leader.join(30)
    others.join(30)
    assert errors_box == [{}]
    assert len(commits) == 2  # the first write alone, then the sixteen that queued behind it
    assert store.count() == WRITERS + 1
    assert store.latest_sequence() == WRITERS + 1
    with SqlStore(f"sqlite:///{path}", background=False) as reopened:
        assert {r.instance_id for r in reopened.snapshot().records} == {
            r.instance_id for r in store.snapshot().records
        }
        assert [c.sequence for c in reopened.changes_after(0)] == list(range(1, WRITERS + 2))


def test_each_function_sees_the_writes_before_it_in_its_batch(store: SqlStore, path: Path) -> None:
    """Read-modify-write of one instance by sixteen writers of one batch: none is lost."""
    put(store, lease(1, metadata={"n": "0"}))
    commits = count_commits(store.engine)

    def increment(_: int) -> None:
        def fn(current: LeaseRecord | None) -> tuple[Write, int]:
            assert current is not None
            n = int(current.instance.metadata["n"]) + 1
            record = LeaseRecord(
                current.instance.evolve(metadata={"n": str(n)}), 90_000, 1_000, None
            )
            return Write(record, ActionType.MODIFIED, change_ms=2_000), n

        store.mutate(current_app, key_id, fn)

    current_app, key_id = lease(1).app, lease(1).instance_id
    with database_locked(path):
        threads = threading.Thread(target=lambda: run_all(increment, WRITERS))
        threads.start()
        queued(store, WRITERS - 1)
    threads.join(30)
    assert len(commits) <= 2
    record = store.get(current_app, key_id)
    assert record is not None
    assert record.instance.metadata["n"] == str(WRITERS)
    with SqlStore(f"sqlite:///{path}", background=False) as reopened:
        again = reopened.get(current_app, key_id)
        assert again is not None
        assert again.instance.metadata["n"] == str(WRITERS)


def test_a_failed_commit_fails_every_write_of_its_batch_and_stores_none(path: Path) -> None:
    """The commit itself is refused (a deferred constraint the batch breaks, checked only at
    COMMIT): every writer of the batch hears StorageError, nothing of it is kept."""
    engine = create_store_engine(f"sqlite:///{path}", timeouts=SqlTimeouts(lock=10))
    sa.event.listen(
        engine, "connect", lambda dbapi, _r: dbapi.execute("PRAGMA foreign_keys=ON"), insert=False
    )
    store = SqlStore(engine, migrate_schema=True, background=False)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE poison_parent (id TEXT PRIMARY KEY)")
            conn.exec_driver_sql(
                "CREATE TABLE poison (ref TEXT REFERENCES poison_parent(id) "
                "DEFERRABLE INITIALLY DEFERRED)"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER poisoned AFTER INSERT ON eureka_leases "
                "WHEN NEW.instance_id = 'host999:orders:8080' "
                "BEGIN INSERT INTO poison VALUES ('none'); END"
            )
        put(store, lease(0))
        before = (store.count(), store.latest_sequence())
        outcomes: dict[int, BaseException] = {}
        with database_locked(path):
            leader = threading.Thread(target=put, args=(store, lease(1)))
            leader.start()
            wait_for(lambda: (store._group is not None and store._group._leading) or None)
            batch = threading.Thread(
                target=lambda: outcomes.update(
                    run_all(lambda n: put(store, lease(999 if n == 0 else 100 + n)), WRITERS)
                )
            )
            batch.start()
            queued(store, WRITERS)
        leader.join(30)
        batch.join(30)
        assert sorted(outcomes) == list(range(WRITERS)), "every writer of the batch failed"
        assert all(isinstance(e, StorageError) for e in outcomes.values())
        assert "refused" in str(outcomes[3])
        assert store.count() == before[0] + 1  # the leader's own batch only
        assert store.latest_sequence() == before[1] + 1
        assert {r.instance_id for r in store.snapshot().records} == {
            "host0:orders:8080",
            "host1:orders:8080",
        }
    finally:
        store.close()
        engine.dispose()
    with SqlStore(f"sqlite:///{path}", background=False) as reopened:
        assert {r.instance_id for r in reopened.snapshot().records} == {
            "host0:orders:8080",
            "host1:orders:8080",
        }


def test_a_function_that_raises_fails_alone_and_its_batch_goes_on(
    store: SqlStore, path: Path
) -> None:
    def work(n: int) -> None:
        if n == 3:

            def broken(_: LeaseRecord | None) -> tuple[Write, None]:
                raise RuntimeError("a bug in the caller's function")

            store.mutate("APP", "x", broken)
        else:
            put(store, lease(n))

    with database_locked(path):
        runner_errors: list[dict[int, BaseException]] = []
        runner = threading.Thread(target=lambda: runner_errors.append(run_all(work, WRITERS)))
        runner.start()
        queued(store, WRITERS - 1)
    runner.join(30)
    [errors] = runner_errors
    assert list(errors) == [3]
    assert isinstance(errors[3], RuntimeError)
    assert store.count() == WRITERS - 1


def test_writers_waiting_on_a_locked_database_all_answer_503_and_none_is_stored(
    path: Path,
) -> None:
    store = SqlStore(
        f"sqlite:///{path}",
        migrate_schema=True,
        background=False,
        timeouts=SqlTimeouts(lock=0.3, statement=0.5),
    )
    client = testing.TestClient(create_app(Registry(store)))
    statuses: dict[int, int] = {}
    try:

        def post(n: int) -> None:
            body = register_body("ORDERS", f"o{n}")
            answer = client.simulate_post("/eureka/apps/ORDERS", body=body, headers=JSON)
            statuses[n] = answer.status_code

        with database_locked(path):
            assert run_all(post, WRITERS) == {}
        assert statuses == dict.fromkeys(range(WRITERS), 503)
        assert store.count() == 0
        assert store.latest_sequence() == 0
        # The lock is free again: the same registrations go through.
        assert run_all(post, WRITERS) == {}
        assert statuses == dict.fromkeys(range(WRITERS), 204)
        assert store.count() == WRITERS
    finally:
        store.close()


def test_a_lost_connection_answers_every_concurrent_writer_503_and_stores_none(
    tmp_path: Path,
) -> None:
    flaky = FlakyDatabase(sqlite_file_url(tmp_path))
    store = SqlStore(flaky.engine, migrate_schema=True, background=False)
    client = testing.TestClient(create_app(Registry(store)))
    statuses: dict[int, int] = {}
    try:

        def post(n: int) -> None:
            body = register_body("ORDERS", f"o{n}")
            answer = client.simulate_post("/eureka/apps/ORDERS", body=body, headers=JSON)
            statuses[n] = answer.status_code

        flaky.down = True
        assert run_all(post, WRITERS) == {}
        assert statuses == dict.fromkeys(range(WRITERS), 503)
        assert store.count() == 0
        flaky.down = False
        store.sync()
        assert store.count() == 0
    finally:
        store.close()
        flaky.dispose()


def test_a_store_over_a_file_of_thousands_holds_exactly_them_sharing_instances(
    store: SqlStore, path: Path
) -> None:
    written = 3_000
    registry = Registry(store)
    for n in range(written):
        registry.register(instance(n, app=f"APP{n % 7}"))
    expected = {
        (r.app, r.instance_id): instance_to_dict(r.instance) for r in store.snapshot().records
    }
    with SqlStore(f"sqlite:///{path}", background=False) as reopened:
        loaded = reopened.snapshot_since(0)
        assert {(r.app, r.instance_id): instance_to_dict(r.instance) for r in loaded.records} == (
            expected
        )
        assert len(loaded.changes) == written
        # A lease and the change that registered it share one instance, as in the writer.
        by_key = {(r.app, r.instance_id): r.instance for r in loaded.records}
        assert all(by_key[change.key] is change.instance for change in loaded.changes)
