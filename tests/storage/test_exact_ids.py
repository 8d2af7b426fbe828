"""Instance ids and app names compare exactly, as in the memory store, on every store.

MariaDB's default collation (``utf8mb4_general_ci``) takes ``host-a`` and ``HOST-A``, ``cafe``
and ``café``, ``pad`` and ``pad `` for the same key: both registrations were acknowledged and
shown (the node's memory had both), but the database kept one row, so after a restart the other
was gone. Its ``utf8mb4_bin`` is no cure for the last pair: it is a PAD SPACE collation.
"""

from __future__ import annotations

import orjson
import pytest
import sqlalchemy as sa

from eureka_embed.cli import main
from eureka_embed.codec import instance_to_dict
from eureka_embed.registry import Registry
from eureka_embed.storage import Store, migrate, store_from_url
from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_engine import create_store_engine
from eureka_embed.storage.sql_schema import changes, leases, renewals, sequence
from tests.databases import server_database_url
from tests.registry.helpers import instance

#: Pairs of instance ids that a case-, accent- or pad-insensitive comparison takes for one.
ID_PAIRS = [("host-a:keys:1", "HOST-A:keys:1"), ("cafe", "café"), ("pad", "pad ")]
#: Pairs of app names (the registry upper-cases app names, so no case pair).
APP_PAIRS = [("CAFE", "CAFÉ"), ("PAD", "PAD ")]

Key = tuple[str, str]


def register_all(registry: Registry) -> dict[Key, str]:
    """Register every pair (by instance id under one app, by app under one id); key -> host."""
    keys = [("KEYS", iid) for pair in ID_PAIRS for iid in pair]
    keys += [(app, "same-id") for pair in APP_PAIRS for app in pair]
    hosts: dict[Key, str] = {}
    for n, (app, iid) in enumerate(keys):
        hosts[(app, iid)] = f"host{n}"
        registry.register(instance(n, app, instance_id=iid))
    return hosts


def assert_holds_each(store: Store, hosts: dict[Key, str]) -> None:
    held = {(r.app, r.instance_id): r.instance.host_name for r in store.snapshot().records}
    assert held == hosts
    for (app, iid), host in hosts.items():  # each addressable on its own
        record = store.get(app, iid)
        assert record is not None, (app, iid)
        assert record.instance.host_name == host
        assert [r.instance.host_name for r in store.find(iid) if r.app == app] == [host]


def test_ids_that_differ_only_in_case_accent_or_trailing_space_are_kept_apart(
    store: Store,
) -> None:
    hosts = register_all(Registry(store))
    assert_holds_each(store, hosts)
    if isinstance(store, SqlStore):  # what a restart finds in the database
        reopened = SqlStore(store.engine, background=False)
        try:
            assert_holds_each(reopened, hosts)
        finally:
            reopened.close()


def old_schema_rows(conn: sa.Connection, rows: list[tuple[str, str, str]]) -> None:
    """Leases as a node on the schema of revision 0001 wrote them (with their change log)."""
    for seq, (app, iid, n) in enumerate(rows, start=1):
        text = orjson.dumps(instance_to_dict(instance(n, app, instance_id=iid))).decode()
        lease = {"app": app, "instance_id": iid}
        conn.execute(
            sa.insert(leases).values(**lease, instance=text, override=None, duration_ms=90_000)
        )
        conn.execute(sa.insert(renewals).values(**lease, last_renewal_ms=seq))
        conn.execute(
            sa.insert(changes).values(
                **lease, seq=seq, timestamp_ms=seq, action="ADDED", instance=text
            )
        )
    conn.execute(sa.update(sequence).values(value=len(rows)))


def key_collations(conn: sa.Connection) -> dict[tuple[str, str], str]:
    found = conn.exec_driver_sql(
        "SELECT table_name, column_name, collation_name FROM information_schema.columns "
        "WHERE table_schema = DATABASE() AND column_name IN ('app', 'instance_id')"
    ).all()
    return {(table, column): collation for table, column, collation in found}


def test_the_migration_makes_an_existing_mariadb_database_compare_exactly() -> None:
    url = server_database_url("mariadb")
    engine = create_store_engine(url)
    old = [("KEYS", "cafe", "old0"), ("KEYS", "host-a:keys:1", "old1"), ("PAD", "same-id", "old2")]
    partners = [("KEYS", "café"), ("KEYS", "HOST-A:keys:1"), ("PAD ", "same-id")]
    try:
        migrate.upgrade(engine, "0001")
        with engine.begin() as conn:
            old_schema_rows(conn, old)
            assert set(key_collations(conn).values()) == {"utf8mb4_general_ci"}
        migrate.upgrade(engine)
        with engine.connect() as conn:
            collations = key_collations(conn)
        assert len(collations) == 6  # app and instance_id of leases, renewals and changes
        assert set(collations.values()) == {"utf8mb4_nopad_bin"}

        store = SqlStore(engine, background=False)
        try:
            hosts = {(app, iid): f"host{n}" for app, iid, n in old}  # kept by the migration
            assert_holds_each(store, hosts)
            assert [c.sequence for c in store.changes_after(0)] == [1, 2, 3]
            registry = Registry(store)
            for n, (app, iid) in enumerate(partners):
                hosts[(app, iid)] = f"hostnew{n}"
                registry.register(instance(f"new{n}", app, instance_id=iid))
            assert_holds_each(store, hosts)
        finally:
            store.close()
        reopened = SqlStore(engine, background=False)
        try:
            assert_holds_each(reopened, hosts)
        finally:
            reopened.close()
    finally:
        engine.dispose()


@pytest.mark.parametrize("how", ["db upgrade", "serve --auto-migrate"])
def test_the_usual_ways_to_migrate_reach_the_exact_collation(
    how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server_database_url("mariadb")
    engine = create_store_engine(url)
    try:
        migrate.upgrade(engine, "0001")
        if how == "db upgrade":
            assert main(["db", "upgrade", "--store", url]) == 0
            assert f"revision {migrate.head_revision()}" in capsys.readouterr().out
        else:  # what serve does with --auto-migrate
            store_from_url(url, auto_migrate=True).close()
        assert migrate.current_revision(engine) == migrate.head_revision() == "0002"
        with engine.connect() as conn:
            assert set(key_collations(conn).values()) == {"utf8mb4_nopad_bin"}
    finally:
        engine.dispose()
