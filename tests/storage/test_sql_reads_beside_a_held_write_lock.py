"""Over a SQLite file, a node's reads go on while another process holds the write lock: a sync
with other nodes (their changes, their renewals) and a reload after pruned changes read a
snapshot and wait for no writer (found by mutation testing: reads run as write transactions,
which queue behind the lock, passed every test)."""

from __future__ import annotations

from pathlib import Path

from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_engine import SqlTimeouts
from tests.storage.test_sql_group_commit import database_locked, lease, put

#: A writer waiting for the lock would give up after this and the sync would raise.
TIMEOUTS = SqlTimeouts(connect=2, statement=1, lock=0.05)


def test_a_sync_and_a_reload_read_while_another_process_holds_the_write_lock(
    tmp_path: Path,
) -> None:
    path = tmp_path / "eureka.db"
    url = f"sqlite:///{path}"
    writer = SqlStore(url, migrate_schema=True, background=False)
    reader = SqlStore(url, timeouts=TIMEOUTS, background=False)
    try:
        put(writer, lease(1))
        with database_locked(path):
            reader.sync()  # catches up change by change, then reads renewals
        assert reader.get("ORDERS", lease(1).instance_id) is not None
        put(writer, lease(2))
        writer.prune_changes(before_ms=10_000)  # the reader must reload everything
        with database_locked(path):
            reader.sync()
        assert reader.get("ORDERS", lease(2).instance_id) is not None
    finally:
        writer.close()
        reader.close()
