"""A database that drops the store's connections (a restart, an idle timeout, an admin's kill)
costs nothing visible: the next unit of work runs on a fresh connection."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from eureka_embed.registry import Registry
from eureka_embed.storage.sql import SqlStore
from tests.databases import server_database_url
from tests.registry.helpers import instance

KILL_OTHERS = {
    "postgresql": (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ),
    "mariadb": (
        "SELECT id FROM information_schema.processlist "
        "WHERE db = DATABASE() AND id <> CONNECTION_ID()"
    ),
}


def kill_other_connections(url: str, kind: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(KILL_OTHERS[kind]).all()
            if kind == "mariadb":
                for (connection_id,) in rows:
                    conn.exec_driver_sql(f"KILL {int(connection_id)}")
            return len(rows)
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_writes_and_flushes_survive_killed_connections(kind: str) -> None:
    url = server_database_url(kind)
    store = SqlStore(url, migrate_schema=True, background=False)
    registry = Registry(store)
    try:
        registry.register(instance(1))  # the pool now holds a live connection
        assert kill_other_connections(url, kind) >= 1
        registry.register(instance(2))
        registry.renew("ORDERS", instance(2).instance_id)
        kill_other_connections(url, kind)
        store.flush()
        registry.cancel("ORDERS", instance(1).instance_id)
        kill_other_connections(url, kind)
        store.sync()
        names = {i.host_name for i in registry.get_applications().instances()}
        assert names == {"host2"}
    finally:
        store.close()
    reopened = SqlStore(url, background=False)
    try:
        assert {r.instance_id for r in reopened.snapshot().records} == {instance(2).instance_id}
    finally:
        reopened.close()
