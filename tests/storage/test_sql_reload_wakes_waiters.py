"""A node that must reload everything (the changes it missed were pruned from the database)
wakes the watches waiting on it at once, as an ordinary catch-up does (found by mutation
testing: a reload that did not report its move left waiters asleep until their time-out)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from eureka_embed.storage.sql import SqlStore
from tests.storage.test_sql_group_commit import lease, put

#: A waiter left asleep would sleep this long; one woken returns within milliseconds.
WAIT_S = 20.0


def test_a_reload_after_pruned_changes_wakes_a_waiting_watch(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'eureka.db'}"
    writer = SqlStore(url, migrate_schema=True, background=False)
    reader = SqlStore(url, background=False)
    try:
        put(writer, lease(1))
        reader.sync()
        seen = reader.latest_sequence()
        put(writer, lease(2))
        put(writer, lease(3))
        writer.prune_changes(before_ms=10_000)  # the reader can no longer catch up change by change
        woke: list[tuple[int, float]] = []

        def watch() -> None:
            started = time.monotonic()
            woke.append((reader.wait_for_change(seen, timeout=WAIT_S), time.monotonic() - started))

        waiter = threading.Thread(target=watch)
        waiter.start()
        # The waiter must be asleep before the reload to tell anything: one that comes later
        # sees the new sequence and returns at once, and the test passes either way.
        time.sleep(0.3)
        reader.sync()
        waiter.join(WAIT_S + 5)
    finally:
        writer.close()
        reader.close()
    [(sequence, waited)] = woke
    assert sequence == seen + 2
    assert waited < WAIT_S / 2, f"the waiter slept {waited:.1f} s"
    assert {r.instance_id for r in reader.snapshot().records} == {
        lease(n).instance_id for n in (1, 2, 3)
    }
