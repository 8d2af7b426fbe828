"""PostgreSQL: the client-side deadline (storage/sql_deadline.py) bounds each statement's wait
for an answer, not a whole unit of work. A unit of many quick statements that together take
longer than the deadline (a large flush or reload) goes through; one statement that gets no
answer in time is cut off (found by mutation testing: without the store's statement events
the first kind was cut off too)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_deadline import Deadline, watcher
from eureka_embed.storage.sql_engine import SqlTimeouts
from tests.databases import server_database_url

LIMIT_S = 1.5
WATCHER_THREAD = "eureka-sql-deadlines"
#: The server's own statement time-out stays out of the way of the client's deadline.
TIMEOUTS = SqlTimeouts(connect=2, statement=10, lock=1)


@pytest.fixture
def store() -> Iterator[SqlStore]:
    made = SqlStore(
        server_database_url("postgresql"), timeouts=TIMEOUTS, migrate_schema=True, background=False
    )
    try:
        yield made
    finally:
        made.close()


def sleeps(store: SqlStore, *seconds: float) -> None:
    """One unit of work on the store's engine: a ``pg_sleep`` per entry, under one deadline."""
    with store.engine.connect() as conn, watcher.watch(conn, Deadline(LIMIT_S)):
        for pause in seconds:
            conn.execute(sa.select(sa.func.pg_sleep(pause)))


def test_quick_statements_may_add_up_to_more_than_the_deadline(store: SqlStore) -> None:
    sleeps(store, *[0.5] * 5)  # 2.5 s in all, each answered within 0.5 s


def test_one_statement_longer_than_the_deadline_is_cut_off(store: SqlStore) -> None:
    with pytest.raises(sa.exc.OperationalError):
        sleeps(store, 0.1, 3 * LIMIT_S)


def test_one_watcher_thread_serves_every_unit_of_work(store: SqlStore) -> None:
    for _ in range(5):  # each unit leaves the watcher idle, the next one wakes it
        sleeps(store, 0.01)
    assert [t.name for t in threading.enumerate() if t.name == WATCHER_THREAD] == [WATCHER_THREAD]


def test_the_watcher_thread_does_not_keep_a_finished_program_alive() -> None:
    url = server_database_url("postgresql")
    program = (
        "import sqlalchemy as sa\n"
        "from eureka_embed.storage.sql import SqlStore\n"
        "from eureka_embed.storage.sql_deadline import Deadline, watcher\n"
        f"store = SqlStore({url!r}, migrate_schema=True, background=False)\n"
        "with store.engine.connect() as conn, watcher.watch(conn, Deadline(5)):\n"
        "    conn.execute(sa.text('SELECT 1'))\n"
        "store.close()\n"
    )
    # A thread that is not a daemon would be waited for at exit, for ever.
    done = subprocess.run([sys.executable, "-c", program], timeout=30, check=False)
    assert done.returncode == 0
