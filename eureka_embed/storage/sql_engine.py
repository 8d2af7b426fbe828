"""Engines for SqlStore: the per-database settings that make the store's contract hold.

- SQLite: WAL journal (readers never wait for the writer), ``synchronous=NORMAL`` (a committed
  write survives a killed process), a busy timeout, and write transactions opened with
  ``BEGIN IMMEDIATE`` so two writers queue up instead of failing on lock upgrade.
  An in-memory database lives on one shared connection (each new one would be a new database).
- PostgreSQL and MariaDB: READ COMMITTED, so a writer that waited for a lock reads what the
  writer before it committed. A pooled connection that a database restart killed is not
  pinged before use (a ping could hang where no deadline watches it): the store retries a
  unit of work once on a fresh connection instead.
- Time-outs on every dialect (:class:`SqlTimeouts`): a database that stops answering must cost a
  write a prompt error, never a worker thread for good. They are set on the server where it
  can enforce them (statement, lock and idle-in-transaction time-outs) and in the driver where
  only the client can notice (connect; pymysql's socket read and write time-outs; psycopg has
  none, so :mod:`eureka_embed.storage.sql_deadline` watches its calls).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import StaticPool

from eureka_embed.errors import InvalidInput

__all__ = [
    "WRITE_OPTION",
    "SqlSync",
    "SqlTimeouts",
    "create_store_engine",
    "is_memory_sqlite",
    "sync_of",
    "timeouts_of",
]

#: Execution option marking a connection whose transaction will write (SQLite: BEGIN IMMEDIATE).
WRITE_OPTION = "eureka_embed_write"

#: The client gives the database this much longer than its own statement time-out, so that a
#: database that can still answer reports its time-out itself (a clearer reason).
_CLIENT_GRACE_S = 1.0


@dataclass(frozen=True)
class SqlTimeouts:
    """How long the store waits for its database, in seconds.

    ``connect``: to open a connection (PostgreSQL counts whole seconds, at least 2).
    ``statement``: for one statement to finish; the client gives up ``statement`` + 1 s after a
    statement was sent (or the last one finished) without an answer.
    ``lock``: for a row lock held by another writer (on SQLite: the database lock).

    In a store URL they are the query options ``connect_timeout``, ``statement_timeout`` and
    ``lock_timeout`` (e.g. ``postgresql+psycopg://host/db?statement_timeout=2``), which the store
    takes out of the URL before the driver sees it.
    """

    connect: float = 3.0
    statement: float = 5.0
    lock: float = 5.0

    def __post_init__(self) -> None:
        for name in ("connect", "statement", "lock"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise InvalidInput(f"SQL {name} time-out must be a number of seconds > 0")

    @property
    def client_deadline(self) -> float:
        """How long the client waits for any answer before it treats the database as gone."""
        return self.statement + _CLIENT_GRACE_S


_URL_OPTIONS = {
    "connect_timeout": "connect",
    "statement_timeout": "statement",
    "lock_timeout": "lock",
}


@dataclass(frozen=True)
class SqlSync:
    """How a store learns of the changes other nodes write to its database.

    ``interval``: seconds between two catch-ups with the change log (the poll).
    ``listen``: on PostgreSQL (psycopg 3), also wake at once on the ``NOTIFY`` every write
    sends (:mod:`~eureka_embed.storage.sql_listen`); the poll stays as the fallback. Other
    databases only poll.

    In a store URL they are the query options ``sync_interval`` and ``listen``
    (``true``/``false``), e.g. ``postgresql+psycopg://host/db?listen=false``.
    """

    interval: float = 0.5
    listen: bool = True

    def __post_init__(self) -> None:
        value = self.interval
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise InvalidInput("SQL sync interval must be a number of seconds > 0")


_SYNC_OPTIONS = ("sync_interval", "listen")
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}

#: The time-outs and sync settings each engine this module created was given, for its store.
_ENGINE_TIMEOUTS: weakref.WeakKeyDictionary[sa.Engine, SqlTimeouts] = weakref.WeakKeyDictionary()
_ENGINE_SYNC: weakref.WeakKeyDictionary[sa.Engine, SqlSync] = weakref.WeakKeyDictionary()


def timeouts_of(engine: sa.Engine) -> SqlTimeouts:
    """The time-outs ``engine`` was created with (the defaults for an engine made elsewhere)."""
    return _ENGINE_TIMEOUTS.get(engine, SqlTimeouts())


def sync_of(engine: sa.Engine) -> SqlSync:
    """The sync settings of ``engine``'s URL (the defaults for an engine made elsewhere)."""
    return _ENGINE_SYNC.get(engine, SqlSync())


def _option(url: sa.URL, option: str) -> str | None:
    raw = url.query.get(option)
    if raw is None:
        return None
    return raw if isinstance(raw, str) else raw[-1]


def _split_timeouts(url: sa.URL, given: SqlTimeouts | None) -> tuple[SqlTimeouts, sa.URL]:
    """The time-outs (``given``, else the URL's options, else defaults) and the URL without them."""
    found: dict[str, float] = {}
    for option, field in _URL_OPTIONS.items():
        text = _option(url, option)
        if text is None:
            continue
        try:
            found[field] = float(text)
        except ValueError:
            raise InvalidInput(
                f"store URL option {option}={text!r} is not a number of seconds"
            ) from None
    stripped = url.difference_update_query(_URL_OPTIONS)
    if given is not None:
        return given, stripped
    return replace(SqlTimeouts(), **found), stripped


def _split_sync(url: sa.URL) -> tuple[SqlSync, sa.URL]:
    """The URL's sync settings (else defaults) and the URL without them (no driver knows them)."""
    found: dict[str, Any] = {}
    interval = _option(url, "sync_interval")
    if interval is not None:
        try:
            found["interval"] = float(interval)
        except ValueError:
            raise InvalidInput(
                f"store URL option sync_interval={interval!r} is not a number of seconds"
            ) from None
    listen = _option(url, "listen")
    if listen is not None:
        if listen.strip().lower() not in _BOOLEANS:
            raise InvalidInput(f"store URL option listen={listen!r} is not true or false")
        found["listen"] = _BOOLEANS[listen.strip().lower()]
    return replace(SqlSync(), **found), url.difference_update_query(_SYNC_OPTIONS)


def is_memory_sqlite(url: sa.URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def create_store_engine(url: str | sa.URL, *, timeouts: SqlTimeouts | None = None) -> sa.Engine:
    """An engine for SqlStore; ``timeouts`` default to the URL's options, else SqlTimeouts().

    The URL's :class:`SqlSync` options are taken out too, for :func:`sync_of`.
    """
    chosen, parsed = _split_timeouts(sa.make_url(url), timeouts)
    sync, parsed = _split_sync(parsed)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = _sqlite_engine(parsed, chosen)
    elif backend in ("mysql", "mariadb"):
        engine = _mysql_engine(parsed, chosen)
    elif backend == "postgresql":
        engine = _postgresql_engine(parsed, chosen)
    else:
        engine = sa.create_engine(parsed)
    _ENGINE_TIMEOUTS[engine] = chosen
    _ENGINE_SYNC[engine] = sync
    return engine


def _unset(url: sa.URL, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` without those the URL sets itself (the user's choice wins)."""
    return {key: value for key, value in options.items() if key not in url.query}


#: The pool keeps SQLAlchemy's 30 s wait for a free connection: that is a wait for this
#: process's own units of work (each bounded by the time-outs), and the pool is not fair, so
#: with more threads than connections a thread can lose the race for several seconds.
_SERVER_OPTIONS: dict[str, Any] = {"isolation_level": "READ COMMITTED"}


def _postgresql_engine(url: sa.URL, timeouts: SqlTimeouts) -> sa.Engine:
    statement_ms = round(timeouts.statement * 1000)
    # A session that a frozen client left inside a transaction holds its locks (the sequence
    # row every writer needs) until the server drops it: other nodes wait at most this long.
    idle_ms = round(timeouts.client_deadline * 2000)
    server = (
        f"-c statement_timeout={statement_ms} -c lock_timeout={round(timeouts.lock * 1000)} "
        f"-c idle_in_transaction_session_timeout={idle_ms}"
    )
    user_options = url.query.get("options")
    if isinstance(user_options, str):  # the user's -c settings come later, so they win
        server = f"{server} {user_options}"
    connect_args: dict[str, Any] = {"options": server}
    connect_args |= _unset(
        url,
        {
            "connect_timeout": max(2, math.ceil(timeouts.connect)),
            # An idle pooled connection whose peer vanished is noticed within about 20 s, and
            # unacknowledged data gives up after the client deadline (real network losses;
            # a stalled peer that still acknowledges is the deadline watcher's job).
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 2,
        },
    )
    if _libpq_version(url) >= 120000:  # older libpq refuses the option
        connect_args |= _unset(url, {"tcp_user_timeout": round(timeouts.client_deadline * 1000)})
    return sa.create_engine(url, connect_args=connect_args, **_SERVER_OPTIONS)


def _libpq_version(url: sa.URL) -> int:
    """The version of the libpq the URL's driver uses, as libpq spells it (0 if unknown)."""
    try:
        if url.get_driver_name() == "psycopg2":
            import psycopg2.extensions  # type: ignore[import-untyped,import-not-found,unused-ignore]

            return int(psycopg2.extensions.libpq_version())
        import psycopg

        return int(psycopg.pq.version())
    except Exception:  # no driver (the engine reports that itself) or an unusual one
        return 0


def _mysql_engine(url: sa.URL, timeouts: SqlTimeouts) -> sa.Engine:
    if "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    connect_args = _unset(
        url,
        {
            "connect_timeout": timeouts.connect,
            "read_timeout": timeouts.client_deadline,
            "write_timeout": timeouts.client_deadline,
        },
    )
    if url.get_driver_name() not in ("pymysql", "mysqldb"):
        connect_args = {}  # other drivers name these differently; the server settings still apply
    engine = sa.create_engine(url, connect_args=connect_args, **_SERVER_OPTIONS)
    lock_s = max(1, math.ceil(timeouts.lock))
    idle_s = max(1, math.ceil(timeouts.client_deadline * 2))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            version = getattr(dbapi_connection, "get_server_info", lambda: None)()
            if not isinstance(version, str):
                cursor.execute("SELECT VERSION()")
                version = str(cursor.fetchone()[0])
            mariadb = "mariadb" in version.lower()
            settings = [f"innodb_lock_wait_timeout = {lock_s}"]
            if mariadb:
                settings += [
                    f"max_statement_time = {timeouts.statement:.3f}",
                    # See the PostgreSQL idle-in-transaction time-out: the same reason.
                    f"idle_transaction_timeout = {idle_s}",
                ]
            else:  # MySQL: its time-out covers SELECTs only
                settings.append(f"max_execution_time = {round(timeouts.statement * 1000)}")
            cursor.execute("SET SESSION " + ", ".join(settings))
        finally:
            cursor.close()

    return engine


def _sqlite_engine(url: sa.URL, timeouts: SqlTimeouts) -> sa.Engine:
    memory = is_memory_sqlite(url)
    options: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, **_unset(url, {"timeout": timeouts.lock})}
    }
    if memory:
        options["poolclass"] = StaticPool
    engine = sa.create_engine(url, **options)
    busy_ms = round(timeouts.lock * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module, so BEGIN is ours to choose.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine
