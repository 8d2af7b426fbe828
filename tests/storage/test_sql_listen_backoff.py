"""PostgreSQL LISTEN/NOTIFY (storage/sql_listen.py): how a listener reconnects. While the
database refuses, it tries again after a pause that doubles with each failure, and says so
once per outage; a connection that served a while is replaced at once, a young one after a
pause (found by mutation testing: the back-off's growth and its reset could change without a
test failing).

The pauses are the listener's ``backoff_first_s`` and ``stable_s`` options, made long here so
that the machine's load cannot blur them; connection attempts are counted where the test's
switchable database hands out connections.
"""

from __future__ import annotations

import itertools
import logging
import time

import pytest

from eureka_embed.storage.sql import SqlStore
from tests.databases import FlakyDatabase
from tests.server.support import wait_for
from tests.storage import test_sql_listen
from tests.storage.test_sql_listen import NO_POLL, terminate
from tests.storage.test_sql_listen_outage_log_and_cleanup import LOGGER, started_listener

#: The fixture of test_sql_listen.py: the emptied PostgreSQL test database, migrated.
pg_url = test_sql_listen.pg_url

LOST = (
    "SQL store: not listening for other nodes' writes (connection refused (test)); they show"
    " at the next poll until the listener reconnects"
)
BACK = "SQL store: listening for other nodes' writes again"


def test_while_refused_the_listener_doubles_its_pause_and_warns_once_per_outage(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    first = 0.2
    caplog.set_level(logging.INFO, logger=LOGGER)
    flaky = FlakyDatabase(pg_url)
    store = SqlStore(pg_url, sync_interval=NO_POLL, listen=False)
    flaky.down = True  # before the listener's first attempt
    listener = started_listener(store, flaky.engine, backoff_first_s=first)
    try:
        wait_for(lambda: len(flaky.attempts) >= 4, what="four connection attempts")
        flaky.down = False
        wait_for(lambda: listener.backend_pid, what="the listener")
    finally:
        listener.stop()
        store.close()
        flaky.dispose()
    gaps = [later - earlier for earlier, later in itertools.pairwise(flaky.attempts[:4])]
    for failed, gap in enumerate(gaps, start=1):
        pause = first * 2 ** (failed - 1)
        # At least the pause; the margin above it is for a loaded machine.
        assert pause <= gap < 1.5 * pause + 0.3, f"{gap:.2f} s after failure {failed}"
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count(LOST) == 1
    assert messages.count(BACK) == 1


def test_a_connection_that_served_a_while_is_replaced_at_once_a_young_one_after_a_pause(
    pg_url: str,
) -> None:
    pause, stable = 2.0, 2.0
    store = SqlStore(pg_url, sync_interval=NO_POLL, listen=False)
    listener = started_listener(store, store.engine, backoff_first_s=pause, stable_s=stable)

    def replaced(pid: int) -> float:
        """Seconds from ending the listening backend ``pid`` until it listens again."""
        lost = time.monotonic()
        terminate(pg_url, pid)
        wait_for(
            lambda: listener.backend_pid not in (None, pid),
            timeout=3 * pause,
            what="a new listening connection",
        )
        return time.monotonic() - lost

    try:
        young = replaced(wait_for(lambda: listener.backend_pid, what="the listener"))
        connected = time.monotonic()
        time.sleep(stable)  # the listener measures a connection's age in real time
        assert time.monotonic() - connected >= stable
        served = replaced(wait_for(lambda: listener.backend_pid, what="the listener"))
    finally:
        listener.stop()
        store.close()
    assert young >= pause  # lost within `stable` of its connect: one failure, so a pause
    assert served < pause  # served longer: reconnected at once


def test_by_default_a_refused_listener_tries_again_a_tenth_of_a_second_later(pg_url: str) -> None:
    flaky = FlakyDatabase(pg_url)
    store = SqlStore(pg_url, sync_interval=NO_POLL, listen=False)
    flaky.down = True
    listener = started_listener(store, flaky.engine)
    try:
        wait_for(lambda: len(flaky.attempts) >= 2, what="two connection attempts")
    finally:
        listener.stop()
        store.close()
        flaky.dispose()
    gap = flaky.attempts[1] - flaky.attempts[0]
    assert 0.1 <= gap < 0.45, f"{gap:.2f} s between the first two attempts"
