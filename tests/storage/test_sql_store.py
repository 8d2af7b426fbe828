"""What SqlStore adds beyond the shared behaviour suite: migrations, batched renewals, several
nodes over one database, and database outages."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from eureka_embed.config import RegistryConfig
from eureka_embed.errors import StorageError, StorageUnavailable
from eureka_embed.model import ActionType, InstanceStatus, apps_hashcode
from eureka_embed.registry import Registry, RenewOutcome
from eureka_embed.storage import migrate
from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_schema import leases, metadata, renewals
from tests.databases import FlakyDatabase, drop_schema, server_database_url, sqlite_file_url
from tests.registry.helpers import instance

SHARED_BACKENDS = ["sqlite-file", "postgresql", "mariadb"]


@pytest.fixture(params=SHARED_BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database several stores can share, empty."""
    if request.param == "sqlite-file":
        return sqlite_file_url(tmp_path)
    return server_database_url(request.param)


@pytest.fixture
def open_store(url: str) -> Iterator[Callable[..., SqlStore]]:
    made: list[SqlStore] = []

    def factory(**options: Any) -> SqlStore:
        options.setdefault("migrate_schema", True)
        options.setdefault("background", False)
        store = SqlStore(url, **options)
        made.append(store)
        return store

    yield factory
    for store in made:
        store.close()


def db_renewal(store: SqlStore, instance_id: str) -> int:
    with store.engine.connect() as conn:
        value = conn.execute(
            sa.select(renewals.c.last_renewal_ms).where(renewals.c.instance_id == instance_id)
        ).scalar_one()
        return int(value)


# -- migrations


def test_upgrade_from_empty_matches_the_table_definitions(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)
        assert migrate.is_up_to_date(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"version_table": migrate.VERSION_TABLE, "compare_type": True}
            )
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_downgrade_then_upgrade_round_trip(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        migrate.upgrade(engine)
        migrate.downgrade(engine, "base")
        assert migrate.current_revision(engine) is None
        assert "eureka_leases" not in sa.inspect(engine).get_table_names()
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()


def test_store_refuses_an_out_of_date_schema(url: str) -> None:
    drop_schema(url)
    # The whole hint, as the user must type it (URL is a placeholder for their --store).
    hint = "; run: eureka-embed db upgrade --store URL (or serve with --auto-migrate)"
    with pytest.raises(StorageError, match=re.escape(hint) + "$"):
        SqlStore(url, background=False)


def test_store_disposes_only_the_engine_it_created(tmp_path: Path) -> None:
    # An engine can connect again after dispose(), so what shows is its pool: disposing
    # replaces it, dropping the connections its owner had pooled.
    engine = sa.create_engine(sqlite_file_url(tmp_path))
    migrate.upgrade(engine)
    pool = engine.pool
    SqlStore(engine, background=False).close()
    assert engine.pool is pool, "the store disposed an engine it was given"
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(leases)).scalar_one() == 0
    engine.dispose()

    made = SqlStore(sqlite_file_url(tmp_path), background=False)
    its_pool = made.engine.pool
    made.close()
    assert made.engine.pool is not its_pool, "the store left its own engine undisposed"


def test_sqlite_file_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    store = SqlStore(sqlite_file_url(tmp_path), migrate_schema=True, background=False)
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 5000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 1  # NORMAL
    finally:
        store.close()


# -- renewals


def test_renewals_are_held_in_memory_and_flushed_in_one_batch(
    open_store: Callable[..., SqlStore],
) -> None:
    store = open_store()
    registry = Registry(store)
    stored = registry.register(instance())
    written = db_renewal(store, stored.instance_id)
    later = written + 5_000
    assert store.renew(stored.app, stored.instance_id, later) is not None
    assert db_renewal(store, stored.instance_id) == written
    store.flush()
    assert db_renewal(store, stored.instance_id) == later


def test_close_flushes_pending_renewals(open_store: Callable[..., SqlStore], url: str) -> None:
    store = open_store()
    stored = Registry(store).register(instance())
    renewed_at = stored.lease_info.registration_timestamp + 7_000
    store.renew(stored.app, stored.instance_id, renewed_at)
    store.close()
    reopened = open_store()
    record = reopened.get(stored.app, stored.instance_id)
    assert record is not None
    assert record.last_renewal_ms == renewed_at


def test_background_flush_writes_renewals_within_a_second(
    open_store: Callable[..., SqlStore],
) -> None:
    store = open_store(background=True, sync_interval=0.1)
    stored = Registry(store).register(instance())
    renewed_at = stored.lease_info.registration_timestamp + 3_000
    store.renew(stored.app, stored.instance_id, renewed_at)
    flushed = threading.Event()
    for _ in range(100):
        if db_renewal(store, stored.instance_id) == renewed_at:
            flushed.set()
            break
        flushed.wait(0.01)
    assert flushed.is_set()


def test_a_flush_larger_than_one_chunk_writes_every_renewal(
    open_store: Callable[..., SqlStore],
) -> None:
    store = open_store()
    registry = Registry(store)
    stored = [registry.register(instance(n)) for n in range(1_200)]
    # After the last registration: on a loaded machine registering takes more than 10 s, and
    # a renewal older than its registration is (rightly) not written.
    base = max(info.lease_info.registration_timestamp for info in stored)
    for n, info in enumerate(stored):
        store.renew(info.app, info.instance_id, base + 10_000 + n)
    store.flush()
    with store.engine.connect() as conn:
        written = dict(
            conn.execute(sa.select(renewals.c.instance_id, renewals.c.last_renewal_ms)).all()
        )
    assert written == {info.instance_id: base + 10_000 + n for n, info in enumerate(stored)}


def test_flush_never_moves_a_renewal_backwards(open_store: Callable[..., SqlStore]) -> None:
    node_a, node_b = open_store(), open_store()
    stored = Registry(node_a).register(instance())
    base = stored.lease_info.registration_timestamp
    node_b.sync()
    node_a.renew(stored.app, stored.instance_id, base + 9_000)
    node_a.flush()
    node_b.renew(stored.app, stored.instance_id, base + 4_000)  # older, flushed later
    node_b.flush()
    assert db_renewal(node_a, stored.instance_id) == base + 9_000


# -- several nodes over one database


def test_a_write_through_one_node_is_seen_by_the_other_after_sync(
    open_store: Callable[..., SqlStore],
) -> None:
    node_a, node_b = open_store(), open_store()
    registry_a, registry_b = Registry(node_a), Registry(node_b)
    registry_a.register(instance(1))
    assert registry_b.get_application("ORDERS") is None
    node_b.sync()
    assert registry_b.get_instance("ORDERS", instance(1).instance_id) is not None
    registry_a.update_status("ORDERS", instance(1).instance_id, InstanceStatus.OUT_OF_SERVICE)
    node_b.sync()
    assert registry_b.get_applications().apps_hashcode == "OUT_OF_SERVICE_1_"
    assert registry_b.sequence == registry_a.sequence
    registry_a.cancel("ORDERS", instance(1).instance_id)
    node_b.sync()
    assert registry_b.get_application("ORDERS") is None


def test_own_write_after_a_foreign_one_catches_up_at_once(
    open_store: Callable[..., SqlStore],
) -> None:
    node_a, node_b = open_store(), open_store()
    Registry(node_a).register(instance(1))
    Registry(node_b).register(instance(2))  # node b has not synced instance 1 before
    names = {r.instance_id for r in node_b.snapshot().records}
    assert names == {instance(1).instance_id, instance(2).instance_id}
    assert node_b.latest_sequence() == node_a.latest_sequence() + 1


def test_the_other_nodes_delta_agrees_with_its_hashcode_before_and_after_it_syncs(
    open_store: Callable[..., SqlStore],
) -> None:
    node_a, node_b = open_store(), open_store()
    registry_a, registry_b = Registry(node_a), Registry(node_b)
    registry_a.register(instance(1))
    node_b.sync()
    registry_a.register(instance(2))  # node b has not caught up with this one yet

    # Every change is inside the window: the delta's instances are the whole registry.
    behind = registry_b.get_delta()
    assert behind.apps_hashcode == apps_hashcode(behind.instances()) == "UP_1_"
    assert behind.version == str(registry_b.sequence)
    node_b.sync()
    caught_up = registry_b.get_delta()
    assert caught_up.apps_hashcode == apps_hashcode(caught_up.instances()) == "UP_2_"


def test_a_node_that_starts_over_a_database_serves_its_recent_changes(
    open_store: Callable[..., SqlStore],
) -> None:
    registry_a = Registry(open_store())
    registry_a.register(instance(1))
    registry_a.cancel("ORDERS", instance(1).instance_id)
    registry_a.register(instance(2))
    started_later = Registry(open_store())
    actions = [(i.host_name, i.action_type) for i in started_later.get_delta().instances()]
    assert sorted(actions) == [("host1", ActionType.DELETED), ("host2", ActionType.ADDED)]
    assert started_later.get_delta().apps_hashcode == "UP_1_"


def test_renewals_through_one_node_keep_the_lease_alive_on_the_other(
    open_store: Callable[..., SqlStore],
) -> None:
    node_a, node_b = open_store(), open_store()
    stored = Registry(node_a).register(instance())
    node_b.sync()
    renewed_at = stored.lease_info.registration_timestamp + 60_000
    node_a.renew(stored.app, stored.instance_id, renewed_at)
    node_a.flush()
    node_b.sync()
    record = node_b.get(stored.app, stored.instance_id)
    assert record is not None
    assert record.last_renewal_ms == renewed_at


def test_concurrent_writes_through_two_nodes_lose_nothing(
    open_store: Callable[..., SqlStore],
) -> None:
    nodes = [Registry(open_store()), Registry(open_store())]
    nodes[0].register(instance())
    iid = instance().instance_id
    errors: list[BaseException] = []

    def work(node: Registry, tag: str) -> None:
        try:
            for i in range(15):
                node.update_metadata("ORDERS", iid, {f"{tag}{i}": "1"})
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(node, f"n{n}-t{t}-"))
        for n, node in enumerate(nodes)
        for t in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    nodes[1].store.sync()  # type: ignore[attr-defined]
    final = nodes[1].get_instance("ORDERS", iid)
    assert final is not None
    expected = {f"n{n}-t{t}-{i}" for n in range(2) for t in range(3) for i in range(15)}
    assert expected <= set(final.metadata)


def test_conflicting_registrations_on_two_nodes_keep_the_newest_dirty_timestamp(
    open_store: Callable[..., SqlStore],
) -> None:
    node_a, node_b = Registry(open_store()), Registry(open_store())
    node_a.register(instance(ldt=300, ip_addr="10.0.0.3"))
    node_b.register(instance(ldt=200, ip_addr="10.0.0.2"), replication=True)
    node_b.store.sync()  # type: ignore[attr-defined]
    for node in (node_a, node_b):
        found = node.get_instance("ORDERS", instance().instance_id)
        assert found is not None
        assert (found.ip_addr, found.last_dirty_timestamp) == ("10.0.0.3", 300)


def test_an_expired_lease_is_evicted_once_across_nodes(
    open_store: Callable[..., SqlStore],
) -> None:
    from eureka_embed.clock import ManualClock

    clock = ManualClock()
    config = RegistryConfig(self_preservation=False)
    node_a = Registry(open_store(), config, clock)
    node_b = Registry(open_store(), config, clock)
    node_a.register(instance())
    node_b.store.sync()  # type: ignore[attr-defined]
    clock.advance(seconds=91)
    evicted = node_a.evict() + node_b.evict()
    assert len(evicted) == 1
    deleted = [c for c in node_a.store.changes_after(0) if c.action is ActionType.DELETED]
    assert len(deleted) == 1


def test_a_node_that_missed_pruned_changes_reloads_everything(
    open_store: Callable[..., SqlStore],
) -> None:
    node_a, node_b = open_store(), open_store()
    registry_a = Registry(node_a)
    registry_a.register(instance(1))
    registry_a.register(instance(2))
    registry_a.cancel("ORDERS", instance(1).instance_id)
    node_a.prune_changes(before_ms=2**62)
    registry_a.register(instance(3))
    node_b.sync()
    assert {r.instance_id for r in node_b.snapshot().records} == {
        instance(2).instance_id,
        instance(3).instance_id,
    }


# -- outages


@pytest.fixture
def flaky(url: str) -> Iterator[FlakyDatabase]:
    database = FlakyDatabase(url)
    yield database
    database.dispose()


def test_writes_fail_clearly_while_the_database_is_down_and_recover(
    flaky: FlakyDatabase,
) -> None:
    store = SqlStore(flaky.engine, migrate_schema=True, background=False)
    registry = Registry(store)
    registry.register(instance(1))
    before = registry.get_applications()
    flaky.down = True
    with pytest.raises(StorageUnavailable):
        registry.register(instance(2))
    # Reads and heartbeats keep working from memory.
    assert registry.get_applications() == before
    assert registry.renew("ORDERS", instance(1).instance_id).outcome is RenewOutcome.OK
    with pytest.raises(StorageUnavailable):
        store.flush()
    flaky.down = False
    registry.register(instance(2))
    store.flush()  # the renewal held through the outage is written now
    record = store.get("ORDERS", instance(1).instance_id)
    assert record is not None
    assert db_renewal(store, instance(1).instance_id) == record.last_renewal_ms
    assert {i.host_name for i in registry.get_applications().instances()} == {"host1", "host2"}
    store.close()


def test_large_metadata_and_unicode_are_stored_intact(open_store: Callable[..., SqlStore]) -> None:
    store = open_store()
    big = {f"key{i}": "x" * 100 for i in range(1000)}  # about 110 KB of JSON
    big["emoji"] = "zone-🚀-é"
    Registry(store).register(instance(metadata=big))
    reopened = open_store()
    record = reopened.get("ORDERS", instance().instance_id)
    assert record is not None
    assert dict(record.instance.metadata) == big
