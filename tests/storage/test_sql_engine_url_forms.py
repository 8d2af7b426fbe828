"""URL forms the store's engine must read right (found by mutation testing): a time-out option
given twice takes its last value, ``sqlite:///:memory:`` is one database shared by every thread
like ``sqlite://``, and a ``mariadb://`` URL gets the same driver settings as ``mysql://``."""

from __future__ import annotations

import threading

import pytest

from eureka_embed.errors import StorageError
from eureka_embed.model import ActionType
from eureka_embed.storage import LeaseRecord, Write
from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_engine import create_store_engine, timeouts_of
from tests.registry.helpers import instance
from tests.storage.test_sql_engine_driver_settings import driver_parameters


def test_a_time_out_option_given_more_than_once_takes_the_last_value() -> None:
    engine = create_store_engine("sqlite://?lock_timeout=1&lock_timeout=2&lock_timeout=3")
    try:
        assert timeouts_of(engine).lock == 3
    finally:
        engine.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_sqlite_store_is_one_database_for_every_thread(url: str) -> None:
    store = SqlStore(url, migrate_schema=True, background=False)
    record = LeaseRecord(instance(1), duration_ms=90_000, last_renewal_ms=1_000)

    def add(_: LeaseRecord | None) -> tuple[Write, None]:
        return Write(record, ActionType.ADDED, change_ms=1_000), None

    failures: list[StorageError] = []

    def write_elsewhere() -> None:
        try:
            store.mutate(record.app, record.instance_id, add)
        except StorageError as exc:
            failures.append(exc)

    try:
        writer = threading.Thread(target=write_elsewhere)
        writer.start()
        writer.join(30)
        assert failures == []
        assert store.latest_sequence() == 1
    finally:
        store.close()


def test_a_mariadb_url_gets_the_mysql_driver_settings() -> None:
    given = driver_parameters("mariadb+pymysql://u@127.0.0.1:1/db")
    assert given["charset"] == "utf8mb4"
    assert (given["read_timeout"], given["write_timeout"]) == (3.0, 3.0)
