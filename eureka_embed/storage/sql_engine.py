"""Engines for SqlStore: the per-database settings that make the store's contract hold.

- SQLite: WAL journal (readers never wait for the writer), ``synchronous=NORMAL`` (a committed
  write survives a killed process), a busy timeout, and write transactions opened with
  ``BEGIN IMMEDIATE`` so two writers queue up instead of failing on lock upgrade.
  An in-memory database lives on one shared connection (each new one would be a new database).
- PostgreSQL and MariaDB: ``pool_pre_ping`` so a connection dropped by a database restart is
  replaced before use; READ COMMITTED, so a writer that waited for a lock reads what the
  writer before it committed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import StaticPool

__all__ = ["WRITE_OPTION", "create_store_engine", "is_memory_sqlite"]

#: Execution option marking a connection whose transaction will write (SQLite: BEGIN IMMEDIATE).
WRITE_OPTION = "eureka_embed_write"


def is_memory_sqlite(url: sa.URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def create_store_engine(url: str | sa.URL) -> sa.Engine:
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    options: dict[str, Any] = {"pool_pre_ping": True, "pool_recycle": 1800}
    if backend in ("mysql", "mariadb"):
        options["isolation_level"] = "READ COMMITTED"
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    elif backend == "postgresql":
        options["isolation_level"] = "READ COMMITTED"
    return sa.create_engine(parsed, **options)


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    memory = is_memory_sqlite(url)
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if memory:
        options["poolclass"] = StaticPool
    engine = sa.create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module, so BEGIN is ours to choose.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine
