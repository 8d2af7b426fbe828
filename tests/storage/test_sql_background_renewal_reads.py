"""How often a store's background thread reads the renewals other nodes flushed: about every
2 s (every 40th tick at a sync interval of 0.05 s), and at every tick when the sync interval is
longer than that (found by mutation testing: which ticks read them could change without a test
failing). Counted as the statements the store sends, through the engine's own events."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_engine import create_store_engine
from tests.server.support import wait_for

TICK = "tick"  # a catch-up, which starts by reading the head of the change log
RENEWALS = "renewals"


def statements_of(engine: sa.Engine) -> list[str]:
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.startswith("SELECT eureka_sequence.value"):
            seen.append(TICK)
        elif "FROM eureka_renewals" in statement and "last_renewal_ms >" in statement:
            seen.append(RENEWALS)

    sa.event.listen(engine, "before_cursor_execute", note)
    return seen


def background_reads(tmp_path: Path, interval: float, ticks: int) -> list[str]:
    """What a store syncing every ``interval`` s read in its first ``ticks`` ticks."""
    url = f"sqlite:///{tmp_path / 'eureka.db'}"
    SqlStore(url, migrate_schema=True, background=False).close()
    engine = create_store_engine(url)
    seen = statements_of(engine)
    store = SqlStore(engine, sync_interval=interval)
    try:
        # Its start reads the head once itself, before the first tick; then one tick more,
        # so that whatever the last tick read is in.
        wait_for(lambda: seen.count(TICK) >= ticks + 2, timeout=5 + 3 * ticks * interval)
    finally:
        store.close()
        engine.dispose()
    assert seen[0] == TICK
    next_tick = [i for i, s in enumerate(seen) if s == TICK][ticks + 1]
    return seen[1:next_tick]


def test_at_a_short_sync_interval_renewals_are_read_every_2_seconds(tmp_path: Path) -> None:
    reads = background_reads(tmp_path, interval=0.05, ticks=45)
    assert reads == [TICK] * 40 + [RENEWALS] + [TICK] * 5


def test_at_a_long_sync_interval_renewals_are_read_at_every_tick(tmp_path: Path) -> None:
    reads = background_reads(tmp_path, interval=1.5, ticks=1)
    assert reads == [TICK, RENEWALS]
