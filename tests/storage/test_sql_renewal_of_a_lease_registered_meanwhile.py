"""A node reading other nodes' renewals may meet the renewal of a lease registered elsewhere
after its catch-up, which it does not hold yet: it skips that row, and holds the lease with its
renewal after the next catch-up (found by mutation testing: the check for a lease not held here
could go without a test failing). The registration is made to land in that gap from the
engine's own statement event, just before the renewals are read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from eureka_embed.storage.sql import SqlStore
from tests.storage.test_sql_group_commit import lease, put


def test_a_renewal_of_a_lease_not_held_yet_is_skipped_then_read_with_the_lease(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'eureka.db'}"
    writer = SqlStore(url, migrate_schema=True, background=False)
    reader = SqlStore(url, background=False)
    registered: list[str] = []

    def register_meanwhile(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM eureka_renewals" in statement and not registered:
            registered.append(statement)
            put(writer, lease(1))  # committed before the reader's snapshot begins

    try:
        sa.event.listen(reader.engine, "before_cursor_execute", register_meanwhile)
        reader.sync()  # must not fail on the renewal row of a lease it does not hold
        assert registered
        assert reader.get("ORDERS", lease(1).instance_id) is None
        reader.sync()
        record = reader.get("ORDERS", lease(1).instance_id)
        assert record is not None
        assert record.last_renewal_ms == lease(1).last_renewal_ms
    finally:
        writer.close()
        reader.close()
