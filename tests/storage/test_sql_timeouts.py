"""Every wait of the SQL store on its database is bounded, on every dialect.

(The database that stops answering altogether is in ``test_sql_hang.py``.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from eureka_embed.errors import InvalidInput, StorageUnavailable
from eureka_embed.registry import Registry
from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_engine import SqlTimeouts, create_store_engine, timeouts_of
from eureka_embed.storage.sql_schema import SEQUENCE_NAME, sequence
from tests.databases import FlakyDatabase, server_database_url, sqlite_file_url
from tests.registry.helpers import instance

SHORT = SqlTimeouts(connect=2, statement=2, lock=1)
#: A lock wait much shorter than the client's deadline, so that a retry would show.
SHORT_LOCK = SqlTimeouts(connect=2, statement=4, lock=1)


def test_time_outs_come_from_the_url_options_or_the_defaults() -> None:
    engine = create_store_engine("sqlite://?statement_timeout=1.5&lock_timeout=0.5")
    assert timeouts_of(engine) == SqlTimeouts(statement=1.5, lock=0.5)
    assert "timeout" not in engine.url.render_as_string()  # the driver never sees them
    engine.dispose()
    assert timeouts_of(create_store_engine("sqlite://")) == SqlTimeouts()
    given = create_store_engine("sqlite://?lock_timeout=9", timeouts=SHORT)
    assert timeouts_of(given) == SHORT  # an argument wins over the URL


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "inf"])
def test_a_bad_time_out_option_is_a_clear_error(bad: str) -> None:
    with pytest.raises(InvalidInput, match="seconds"):
        create_store_engine(f"sqlite://?statement_timeout={bad}")


@pytest.mark.parametrize("kind", ["postgresql", "mariadb", "sqlite"])
def test_the_database_enforces_the_statement_and_lock_time_outs(kind: str, tmp_path: Path) -> None:
    url = sqlite_file_url(tmp_path) if kind == "sqlite" else server_database_url(kind)
    engine = create_store_engine(url, timeouts=SHORT)
    queries = {
        "postgresql": "SELECT current_setting('statement_timeout'), "
        "current_setting('lock_timeout')",
        "mariadb": "SELECT @@SESSION.max_statement_time, @@SESSION.innodb_lock_wait_timeout",
        "sqlite": "PRAGMA busy_timeout",
    }
    expected = {"postgresql": ("2s", "1s"), "mariadb": (2.0, 1), "sqlite": (1000,)}
    try:
        with engine.connect() as conn:
            assert tuple(conn.exec_driver_sql(queries[kind]).one()) == expected[kind]
    finally:
        engine.dispose()


@pytest.fixture(params=["postgresql", "mariadb"])
def locked_store(request: pytest.FixtureRequest) -> Iterator[tuple[SqlStore, sa.Connection]]:
    """A store, and another connection that holds the lock every writer needs."""
    url = server_database_url(request.param)
    store = SqlStore(url, migrate_schema=True, background=False, timeouts=SHORT_LOCK)
    other = sa.create_engine(url)
    conn = other.connect()
    try:
        yield store, conn
    finally:
        conn.close()
        other.dispose()
        store.close()


def test_a_write_waits_for_a_held_lock_no_longer_than_the_lock_time_out(
    locked_store: tuple[SqlStore, sa.Connection],
) -> None:
    store, holder = locked_store
    registry = Registry(store)
    registry.register(instance(1))
    holder.begin()
    holder.execute(
        sa.select(sequence.c.value).where(sequence.c.name == SEQUENCE_NAME).with_for_update()
    )
    outcome: list[BaseException | None] = []

    def write() -> None:
        try:
            registry.register(instance(2))
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    started = time.monotonic()
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    writer.join(15)
    waited = time.monotonic() - started
    holder.rollback()
    writer.join(15)
    assert len(outcome) == 1 and isinstance(outcome[0], StorageUnavailable), outcome
    assert "busy" in outcome[0].reason
    assert waited < SHORT_LOCK.lock + 1.5  # one lock wait, not one per retry
    assert store.get("ORDERS", instance(2).instance_id) is None
    # The database answered (it was busy, not gone): the next write goes through at once.
    registry.register(instance(3))
    assert store.get("ORDERS", instance(3).instance_id) is not None


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = FlakyDatabase(sqlite_file_url(tmp_path))
    store = SqlStore(database.engine, migrate_schema=True, background=False)
    registry = Registry(store)
    try:
        caplog.set_level(logging.WARNING, logger="eureka_embed.storage.sql")
        database.down = True
        for n in range(5):
            with pytest.raises(StorageUnavailable):
                registry.register(instance(n))
        with pytest.raises(StorageUnavailable):
            store.sync()
        database.down = False
        registry.register(instance(9))
        registry.register(instance(10))
        messages = [r.getMessage() for r in caplog.records]
        assert len(messages) == 2, messages
        assert messages[0].startswith("SQL store: the database is unreachable (")
        assert messages[1].startswith("SQL store: the database is reachable again after ")
    finally:
        store.close()
        database.dispose()
