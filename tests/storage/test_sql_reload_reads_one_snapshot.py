"""A node that reloads everything (the changes it missed were pruned) reads the log's head,
the leases and the log in one snapshot on PostgreSQL and MariaDB, whose store sessions are
READ COMMITTED: another node's write committed between those reads is then neither half in
the reload nor logged twice by the catch-up after it (found by mutation testing: the reload
run as a write, without its snapshot, passed every test). The write is made to land between
the reads from the engine's own statement event."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from eureka_embed.storage.sql import SqlStore
from tests.databases import server_database_url
from tests.storage.test_sql_group_commit import lease, put


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_a_reload_does_not_see_a_write_committed_between_its_reads(kind: str) -> None:
    url = server_database_url(kind)
    other = SqlStore(url, migrate_schema=True, background=False)
    node = SqlStore(url, background=False)
    fired: list[str] = []

    def writes_meanwhile(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The reload's read of every lease, after its read of the log's head.
        reads_all_leases = (
            "eureka_renewals.last_renewal_ms" in statement and "WHERE" not in statement
        )
        if reads_all_leases and not fired:
            fired.append(statement)
            put(other, lease(3))

    try:
        put(other, lease(1))
        node.sync()
        start = node.latest_sequence()
        put(other, lease(2))
        other.prune_changes(before_ms=10_000)  # the node can no longer catch up change by change
        sa.event.listen(node.engine, "before_cursor_execute", writes_meanwhile)
        node.sync()  # reloads; lease 3 is committed while it reads
        assert fired
        sa.event.remove(node.engine, "before_cursor_execute", writes_meanwhile)
        assert node.latest_sequence() == start + 1
        assert {r.instance_id for r in node.snapshot().records} == {
            lease(n).instance_id for n in (1, 2)
        }
        node.sync()  # catches up with lease 3, change by change
        logged = [change.sequence for change in node.changes_after(0)]
        assert logged == sorted(set(logged))  # each change once, in order
        assert logged[-1] == start + 2
        assert {r.instance_id for r in node.snapshot().records} == {
            lease(n).instance_id for n in (1, 2, 3)
        }
    finally:
        other.close()
        node.close()
