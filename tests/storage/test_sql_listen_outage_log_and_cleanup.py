"""PostgreSQL LISTEN/NOTIFY (storage/sql_listen.py), what an operator sees: a listener that
loses its connection logs one warning with the server's reason and one line when it listens
again; a store that is closed leaves no descriptor of its listener open (found by mutation
testing)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from eureka_embed.storage import migrate
from eureka_embed.storage.sql import SqlStore
from tests.databases import server_database_url
from tests.server.support import wait_for
from tests.storage.test_sql_listen import NO_POLL, listening, terminate

LOGGER = "eureka_embed.storage.sql"
LOST = re.compile(
    r"SQL store: not listening for other nodes' writes \([^()\n]*connection[^()\n]*\); they"
    r" show at the next poll until the listener reconnects"
)


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = server_database_url("postgresql")
    engine = sa.create_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    yield url


def test_a_lost_listener_logs_the_servers_reason_once_and_once_that_it_listens_again(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqlStore(pg_url, sync_interval=NO_POLL)
    try:
        pid = listening(store)
        with caplog.at_level(logging.INFO, logger=LOGGER):
            terminate(pg_url, pid)
            listener = store._listener
            assert listener is not None
            wait_for(lambda: listener.backend_pid not in (None, pid), what="a new listener")
    finally:
        store.close()
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER]
    assert [level for level, _ in lines] == [logging.WARNING, logging.INFO]
    # The reason is the first line of libpq's message, whichever way it saw the end
    # ("terminating connection due to administrator command", "server closed the connection
    # unexpectedly"), not the name of the driver's exception.
    assert LOST.fullmatch(lines[0][1]), lines[0][1]
    assert lines[1][1] == "SQL store: listening for other nodes' writes again"


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
