"""PostgreSQL LISTEN/NOTIFY (storage/sql_listen.py), what an operator sees: a listener that
loses its connection logs one warning with the server's reason and one line when it listens
again; a store that is closed leaves no descriptor of its listener open (found by mutation
testing)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa

from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_engine import SqlTimeouts
from eureka_embed.storage.sql_listen import ChangeListener
from tests.databases import FlakyDatabase
from tests.server.support import wait_for
from tests.storage import test_sql_listen
from tests.storage.test_sql_listen import NO_POLL, listening, terminate

LOGGER = "eureka_embed.storage.sql"
LOST = re.compile(
    r"SQL store: not listening for other nodes' writes \([^()\n]*connection[^()\n]*\); they"
    r" show at the next poll until the listener reconnects"
)


#: The fixture of test_sql_listen.py: the emptied PostgreSQL test database, migrated.
pg_url = test_sql_listen.pg_url


def started_listener(store: SqlStore, engine: sa.Engine, **options: float) -> ChangeListener:
    """A listener of ``store``'s (made with ``listen=False``) over ``engine``, started."""
    assert store._announcer is not None
    listener = ChangeListener(
        engine,
        store._announcer,
        SqlTimeouts(connect=2, statement=1),
        latest=store.latest_sequence,
        catch_up=store._sync_changes,
        **options,
    )
    listener.start()
    return listener


def test_each_lost_listener_connection_logs_the_reason_once_and_once_that_it_listens_again(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        store = SqlStore(pg_url, sync_interval=NO_POLL)
        try:
            for _ in range(2):  # two outages: a warning and a recovery line for each
                pid = listening(store)
                terminate(pg_url, pid)
                wait_for(lambda: listening(store) != pid, what="a new listener")  # noqa: B023
        finally:
            store.close()
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER]
    # Nothing at the first connect; then, per outage, the first line of libpq's message
    # ("terminating connection due to administrator command", "server closed the connection
    # unexpectedly"), not the name of the driver's exception, and the recovery.
    assert [level for level, _ in lines] == [logging.WARNING, logging.INFO] * 2, lines
    for (_, warning), (_, back) in (lines[0:2], lines[2:4]):
        assert LOST.fullmatch(warning), warning
        assert back == "SQL store: listening for other nodes' writes again"


def test_a_listener_whose_first_connection_fails_listens_once_the_database_answers(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    flaky = FlakyDatabase(pg_url)
    store = SqlStore(pg_url, sync_interval=NO_POLL, listen=False)
    flaky.down = True  # before the listener's first connection
    listener = started_listener(store, flaky.engine)
    try:
        wait_for(
            lambda: any("connection refused (test)" in r.getMessage() for r in caplog.records),
            what="the first connection refused",
        )
        flaky.down = False
        wait_for(lambda: listener.backend_pid, what="the listener")
    finally:
        listener.stop()
        store.close()
        flaky.dispose()


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
def test_closing_listening_stores_leaves_no_descriptor_open(pg_url: str) -> None:
    def open_and_close() -> None:
        store = SqlStore(pg_url, sync_interval=NO_POLL)
        listening(store)
        store.close()

    open_and_close()  # the first store may open what the process keeps (driver, libraries)
    before = open_descriptors()
    for _ in range(3):
        open_and_close()
    assert open_descriptors() == before


def test_a_listening_store_left_open_does_not_keep_a_finished_program_alive(pg_url: str) -> None:
    program = (
        "from eureka_embed.storage.sql import SqlStore\n"
        "from tests.storage.test_sql_listen import listening\n"
        f"listening(SqlStore({pg_url!r}, sync_interval=60))\n"
    )
    # A listener thread that is not a daemon would be waited for at exit, for ever.
    done = subprocess.run([sys.executable, "-c", program], timeout=30, check=False)
    assert done.returncode == 0


def test_a_silent_listener_pings_its_connection_and_keeps_it(pg_url: str) -> None:
    store = SqlStore(pg_url, sync_interval=NO_POLL, listen=False)
    listener = started_listener(store, store.engine, ping_after_s=0.1)
    engine = sa.create_engine(pg_url)
    try:
        pid = wait_for(lambda: listener.backend_pid, what="the listener")

        def last_query() -> str | None:
            with engine.connect() as conn:
                found = conn.execute(
                    sa.text("SELECT query FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                ).scalar()
            return str(found) if found is not None else None

        wait_for(lambda: (last_query() or "").upper() == "SELECT 1", what="a ping")
        assert listener.backend_pid == pid  # the ping was answered: the connection is kept
    finally:
        engine.dispose()
        listener.stop()
        store.close()
