"""A node's own write that lands while the node is catching up (after the catch-up started,
before it read the log) is in the node's log once, followed by the other node's write that
came after it (found by mutation testing: logging it a second time passed every test). The
two writes are made to land in that gap from the engine's own statement event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from eureka_embed.storage.sql import SqlStore
from tests.storage.test_sql_group_commit import lease, put


def test_an_own_write_made_during_a_catch_up_is_logged_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'eureka.db'}"
    other = SqlStore(url, migrate_schema=True, background=False)
    node = SqlStore(url, background=False)
    fired: list[str] = []

    def writes_meanwhile(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The catch-up's first read of the log's head: its snapshot starts with it.
        if statement.startswith("SELECT eureka_sequence.value") and not fired:
            fired.append(statement)
            put(node, lease(1))  # this node's own write, applied at once
            put(other, lease(2))  # then another node's

    try:
        start = node.latest_sequence()
        sa.event.listen(node.engine, "before_cursor_execute", writes_meanwhile)
        node.sync()
        assert fired
        logged = [(c.sequence, c.instance.instance_id) for c in node.changes_after(start)]
        assert logged == [
            (start + 1, lease(1).instance_id),
            (start + 2, lease(2).instance_id),
        ]
        assert node.latest_sequence() == start + 2
    finally:
        other.close()
        node.close()
