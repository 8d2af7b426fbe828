"""A node that has to reload everything (the changes it missed were pruned) keeps the
heartbeats it holds and has not flushed yet: its leases are not set back to the database's
older renewal, which would make live instances look expired (found by mutation testing)."""

from __future__ import annotations

from pathlib import Path

from eureka_embed.storage.sql import SqlStore
from tests.storage.test_sql_group_commit import lease, put

RENEWED_MS = 5_000_000


def test_a_reload_keeps_this_nodes_unflushed_renewals(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'eureka.db'}"
    node_a = SqlStore(url, migrate_schema=True, background=False)
    node_b = SqlStore(url, background=False)
    try:
        renewed = lease(1)
        put(node_a, renewed)
        node_b.sync()
        assert node_b.renew(renewed.app, renewed.instance_id, RENEWED_MS) is not None
        put(node_a, lease(2))
        node_a.prune_changes(before_ms=10**15)  # node b cannot catch up change by change
        node_b.sync()  # so it reloads everything
        records = {r.instance_id: r for r in node_b.snapshot().records}
        assert set(records) == {renewed.instance_id, lease(2).instance_id}
        assert records[renewed.instance_id].last_renewal_ms == RENEWED_MS
    finally:
        node_b.close()
        node_a.close()
