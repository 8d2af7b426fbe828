"""PostgreSQL ``LISTEN/NOTIFY``: nodes sharing one database learn of each other's writes at once.

Without it a node sees another node's write at its next poll of the change log
(``sync_interval``, 0.5 s by default). With it:

- every write transaction that logs a change also calls ``pg_notify`` (:class:`Announcer`).
  PostgreSQL delivers the notification only once the transaction commits, so a listener that
  hears of sequence N can read change N at once. The payload is ``"<sequence> <node token>"``:
  a node skips its own writes (it applied them already) and whatever it has caught up with.
- every store with a background thread runs one :class:`ChangeListener`: a thread on a
  connection of its own, outside the store's pool, that ``LISTEN``\\ s and, on another node's
  notification, runs the store's catch-up, which wakes
  :meth:`~eureka_embed.storage.base.Store.wait_for_change`. Notifications that arrive together
  cost one catch-up.

The poll stays: it is the fallback for a lost notification or a listener whose connection is
down, and the only path on MariaDB and SQLite. A listener that loses its connection (a database
restart, ``pg_terminate_backend``) reconnects with back-off and, once listening again, catches
up once, since notifications sent in the gap are gone. Each of its waits is bounded by the
store's :class:`~eureka_embed.storage.sql_engine.SqlTimeouts`, and :meth:`ChangeListener.stop`
wakes it from any wait at once, so closing a store never waits on the database for long.

The channel is named after the schema the store's tables live in (PostgreSQL scopes channels to
a database already), so two registries in two schemas of one database do not wake each other.

Listening needs psycopg 3 (it drives libpq's non-blocking calls directly, to wait on its socket
and a wake-up socket at once); with another driver the store only polls. Sending is plain SQL.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from eureka_embed.errors import StorageError
from eureka_embed.storage.sql_engine import SqlTimeouts

if TYPE_CHECKING:
    from psycopg import pq

__all__ = ["Announcer", "ChangeListener", "can_listen", "find_channel", "start_listener"]

log = logging.getLogger("eureka_embed.storage.sql")

#: PostgreSQL's longest identifier, in bytes (a longer channel name is refused).
_MAX_CHANNEL = 63
_CHANNEL_PREFIX = "eureka_embed."
#: The schema holding the store's tables, as the connection's search_path finds them.
_TABLE_SCHEMA = sa.text(
    "SELECT n.nspname FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.oid = to_regclass('eureka_sequence')"
)
_NOTIFY = sa.select(sa.func.pg_notify(sa.bindparam("b_channel"), sa.bindparam("b_payload")))

#: First pause before reconnecting after a failed attempt, and the longest one.
_BACKOFF_FIRST_S = 0.1
_BACKOFF_MAX_S = 5.0
#: A connection that lived this long resets the back-off.
_STABLE_S = 5.0
#: After this much silence the listener checks that its connection still answers: a stalled
#: path that keeps acknowledging would otherwise hide a dead listener behind the poll forever.
_PING_AFTER_S = 30.0
#: How long stop() waits for the thread (it is inside one bounded wait at most).
_JOIN_S = 10.0


def channel_name(schema: str) -> str:
    """The channel of the registry whose tables are in ``schema``."""
    name = _CHANNEL_PREFIX + schema
    if len(name.encode()) <= _MAX_CHANNEL:
        return name
    return _CHANNEL_PREFIX + hashlib.sha256(schema.encode()).hexdigest()[:32]


def find_channel(conn: sa.Connection) -> str:
    """The channel of the registry ``conn`` sees (its tables' schema names it)."""
    schema = conn.execute(_TABLE_SCHEMA).scalar()
    return channel_name(str(schema or "public"))


def can_listen(engine: sa.Engine) -> bool:
    """Whether a listener can run over ``engine``: PostgreSQL through psycopg 3."""
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"


def start_listener(
    engine: sa.Engine,
    announcer: Announcer,
    timeouts: SqlTimeouts,
    *,
    latest: Callable[[], int],
    catch_up: Callable[[], None],
) -> ChangeListener | None:
    """A running :class:`ChangeListener` for ``engine``, or None where its driver cannot."""
    if not can_listen(engine):
        log.info(
            "SQL store: not listening for other nodes' writes: that needs the psycopg driver "
            "(postgresql+psycopg://), this URL uses %s; they show at the next poll",
            engine.dialect.driver,
        )
        return None
    listener = ChangeListener(engine, announcer, timeouts, latest=latest, catch_up=catch_up)
    listener.start()
    return listener


@dataclass(frozen=True)
class Announcer:
    """Sends one store's change notifications on ``channel``, signed with this node's token."""

    channel: str
    token: str = field(default_factory=lambda: secrets.token_hex(8))

    def send(self, conn: sa.Connection, sequence: int) -> None:
        """Notify of change ``sequence``, inside the transaction that logs it."""
        conn.execute(_NOTIFY, {"b_channel": self.channel, "b_payload": f"{sequence} {self.token}"})

    def is_news(self, payload: str, latest: int) -> bool:
        """Whether a notification asks for a catch-up: another node's, past ``latest``."""
        sequence, _, token = payload.partition(" ")
        if token == self.token:
            return False
        try:
            return int(sequence) > latest
        except ValueError:  # not ours to read: catching up is always safe
            return True


class _Stopped(Exception):
    """stop() was called: leave whatever wait the thread is in."""


class _Lost(Exception):
    """The listening connection stopped working."""


class ChangeListener:
    """A thread that LISTENs on a connection of its own and calls ``catch_up`` on news.

    ``latest`` gives the store's current sequence (notifications up to it are old news);
    ``catch_up`` brings the store up to date and wakes its waiters. It runs on this thread,
    after every connect too (what was sent while not listening is lost). After
    ``ping_after_s`` of silence the connection must answer a ``SELECT 1`` within the client
    deadline, or it is replaced. A failed connection attempt is followed by a pause of
    ``backoff_first_s``, doubled after each further failure (at most 5 s); a connection that
    served ``stable_s`` or longer is replaced at once.
    """

    def __init__(
        self,
        engine: sa.Engine,
        announcer: Announcer,
        timeouts: SqlTimeouts,
        *,
        latest: Callable[[], int],
        catch_up: Callable[[], None],
        ping_after_s: float = _PING_AFTER_S,
        backoff_first_s: float = _BACKOFF_FIRST_S,
        stable_s: float = _STABLE_S,
    ) -> None:
        # A pool of its own, with the engine's connect arguments and events: the listening
        # connection is never handed to a unit of work, nor waits for a free one.
        self._pool = engine.pool.recreate()
        self._announcer = announcer
        self._timeouts = timeouts
        self._latest = latest
        self._catch_up_fn = catch_up
        self._ping_after_s = ping_after_s
        self._backoff_first_s = backoff_first_s
        self._stable_s = stable_s
        self._stopping = threading.Event()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._connection: Any = None  # the pool's connection, while connected
        self._pgconn: pq.abc.PGconn | None = None
        self._selector: selectors.BaseSelector | None = None
        self._pending: list[str] = []
        #: The backend process id of the listening connection, once caught up (else None).
        self.backend_pid: int | None = None
        self._thread = threading.Thread(target=self._run, name="eureka-sql-listener", daemon=True)

    @property
    def channel(self) -> str:
        return self._announcer.channel

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """End the thread: at once from a wait, else after the one bounded call it is in."""
        self._stopping.set()
        with contextlib.suppress(OSError):  # the thread may be gone and its socket closed
            self._wake_write.send(b"x")
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(_JOIN_S)

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        failures = 0
        lost_reason: str | None = None
        try:
            while not self._stopping.is_set():
                if failures:
                    delay = min(_BACKOFF_MAX_S, self._backoff_first_s * 2 ** (failures - 1))
                    if self._stopping.wait(delay):
                        return
                connected_at = time.monotonic()
                try:
                    self._connect()
                    if lost_reason is not None:
                        log.info("SQL store: listening for other nodes' writes again")
                        lost_reason = None
                    self._catch_up()
                    self._ready()
                    self._listen()
                except _Stopped:
                    return
                except Exception as exc:  # any failure of the connection: start over
                    reason = _reason(exc)
                    if lost_reason is None:  # one line per outage, not one per attempt
                        log.warning(
                            "SQL store: not listening for other nodes' writes (%s); they show "
                            "at the next poll until the listener reconnects",
                            reason,
                        )
                    lost_reason = reason
                finally:
                    self._disconnect()
                # After a connection that served a while, reconnect at once; back off from
                # there while attempts keep failing (the database is restarting, or refusing).
                failures = 0 if time.monotonic() - connected_at >= self._stable_s else failures + 1
        finally:
            self._disconnect()
            self._pool.dispose()
            self._wake_read.close()
            self._wake_write.close()

    def _connect(self) -> None:
        self._connection = self._pool.connect()
        driver: Any = self._connection.driver_connection
        pgconn: pq.abc.PGconn = driver.pgconn
        self._pgconn = pgconn
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._selector.register(pgconn.socket, selectors.EVENT_READ)
        quoted = '"' + self.channel.replace('"', '""') + '"'
        self._command(f"LISTEN {quoted}".encode())

    def _ready(self) -> None:
        """Listening, and caught up with what was sent before: say so (tests wait for it)."""
        assert self._pgconn is not None
        self.backend_pid = self._pgconn.backend_pid

    def _disconnect(self) -> None:
        self.backend_pid = None
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        self._pgconn = None
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):  # closing a broken connection may complain
                connection.invalidate()  # never back into a pool: it is LISTENing

    def _listen(self) -> None:
        """Hand notifications on until the connection fails (raises) or stop() is called."""
        pgconn = self._pgconn
        assert pgconn is not None
        while True:
            self._deliver()  # what came in with the last answer first
            if not self._wait(self._ping_after_s):
                self._command(b"SELECT 1")  # raises _Lost if it does not answer in time
            else:
                self._read(pgconn)

    def _deliver(self) -> None:
        payloads, self._pending = self._pending, []
        latest = self._latest()
        if any(self._announcer.is_news(payload, latest) for payload in payloads):
            self._catch_up()

    def _catch_up(self) -> None:
        try:
            self._catch_up_fn()
        except StorageError as exc:  # the store's health and its poll report outages
            log.debug("SQL store: catch-up on notification failed: %s", exc)
        except Exception:
            log.exception("SQL store: catch-up on notification failed")

    # ------------------------------------------------------------------ libpq, bounded

    def _command(self, query: bytes) -> None:
        """Run one statement, waiting at most the client deadline for its answer."""
        from psycopg import pq

        pgconn = self._pgconn
        assert pgconn is not None
        pgconn.send_query(query)
        deadline = time.monotonic() + self._timeouts.client_deadline
        silent = f"the database did not answer within {self._timeouts.client_deadline:g} s"
        while pgconn.flush():  # a short statement goes in one write; a full buffer waits
            if not self._wait(deadline - time.monotonic(), writing=True):
                raise _Lost(silent)
        while pgconn.is_busy():
            if not self._wait(deadline - time.monotonic()):
                raise _Lost(silent)
            self._read(pgconn)
        failed: str | None = None
        while (result := pgconn.get_result()) is not None:
            if result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
                message = (result.error_message or b"").decode(errors="replace").strip()
                failed = message or f"{query.decode()} failed"
        if failed is not None:
            raise _Lost(failed)

    def _read(self, pgconn: pq.abc.PGconn) -> None:
        """Take in what the socket holds; keep its notifications for :meth:`_deliver`."""
        from psycopg import pq

        pgconn.consume_input()  # raises OperationalError once the server has gone
        while (note := pgconn.notifies()) is not None:
            self._pending.append(note.extra.decode(errors="replace"))
        if pgconn.status != pq.ConnStatus.OK:
            raise _Lost("the connection was closed")

    def _wait(self, timeout: float, *, writing: bool = False) -> bool:
        """Wait until the database's socket is ready (True) or ``timeout`` passes (False).

        :raises _Stopped: stop() was called.
        """
        selector = self._selector
        pgconn = self._pgconn
        assert selector is not None and pgconn is not None
        if writing:
            selector.modify(pgconn.socket, selectors.EVENT_READ | selectors.EVENT_WRITE)
        try:
            ready = selector.select(max(0.0, timeout))
        finally:
            if writing:
                selector.modify(pgconn.socket, selectors.EVENT_READ)
        if self._stopping.is_set() or any(key.fileobj is self._wake_read for key, _ in ready):
            raise _Stopped
        return bool(ready)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
