"""A change logged with an instance of its own (not the written record's) is stored with that
instance: another node catching up, and a node started afresh on the database, read the
instance the writer logged. Found by mutation testing (``sql.xǁSqlStoreǁ_log_change`` mutants 5
and 8, which store the lease's text instead)."""

from __future__ import annotations

from pathlib import Path

from eureka_embed.model import ActionType, InstanceStatus
from eureka_embed.storage import LeaseRecord, Write
from eureka_embed.storage.sql import SqlStore
from tests.databases import sqlite_file_url
from tests.registry.helpers import instance

WRITTEN = instance(1, "ORDERS", status=InstanceStatus.UP, ldt=100)
#: What the log says about the change: a different status and dirty time than the record.
LOGGED = WRITTEN.evolve(status=InstanceStatus.DOWN, last_dirty_timestamp=777)


def _store(url: str) -> SqlStore:
    return SqlStore(url, migrate_schema=True, background=False)


def test_the_logged_instance_is_what_other_nodes_read(tmp_path: Path) -> None:
    url = sqlite_file_url(tmp_path)
    a, b = _store(url), _store(url)
    with a, b:
        after = b.latest_sequence()

        def write(_: LeaseRecord | None) -> tuple[Write, None]:
            record = LeaseRecord(WRITTEN, duration_ms=90_000, last_renewal_ms=1_000)
            return Write(record, ActionType.MODIFIED, change_instance=LOGGED, change_ms=2_000), None

        a.mutate("ORDERS", WRITTEN.instance_id, write)
        b.sync()
        [change] = b.changes_after(after)
        assert change.instance.status is InstanceStatus.DOWN
        assert change.instance.last_dirty_timestamp == 777
        record = b.get("ORDERS", WRITTEN.instance_id)
        assert record is not None and record.instance.status is InstanceStatus.UP
        with _store(url) as fresh:
            [logged] = [c for c in fresh.changes_after(0) if c.action is ActionType.MODIFIED]
            assert logged.instance.status is InstanceStatus.DOWN
            assert logged.instance.last_dirty_timestamp == 777
