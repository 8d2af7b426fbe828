"""A deadline on every database call of drivers that have no client-side time-out (psycopg).

libpq waits for an answer as long as the socket stays open. When the network path or the
server stalls without closing anything (a hung proxy or load balancer, a frozen VM), the
kernel keeps acknowledging and the server's own time-outs never see the statement, so a
worker thread waits forever. :class:`DeadlineWatcher` shuts down the socket of a call that got
no answer in time, from one background thread; the driver then fails the call at once with a
lost connection, which the store reports as the database not answering.

A unit of work is watched from when it has its connection until it committed; each statement
that starts or finishes moves the deadline on (so a long batch of quick statements is fine, one
statement that gets no answer is not). Drivers that enforce a socket time-out themselves
(pymysql's ``read_timeout``) and SQLite have no socket to watch: :meth:`watch` leaves them be.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

__all__ = ["Deadline", "DeadlineWatcher", "watch_statements", "watcher"]


class Deadline:
    """One watched unit of work: its socket, how long it may go without an answer, and whether
    the watcher had to cut it off."""

    __slots__ = ("due", "fd", "fired", "limit")

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.fd: int | None = None
        self.due = time.monotonic() + limit
        self.fired = False

    def touch(self) -> None:
        self.due = time.monotonic() + self.limit


class DeadlineWatcher:
    """Cuts off the socket of each watched unit of work that passes its deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watched: dict[int, Deadline] = {}  # by thread: a thread runs one unit at a time
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watch(self, connection: sa.Connection, deadline: Deadline) -> Iterator[None]:
        """Watch ``deadline`` while the current thread uses ``connection``'s socket."""
        deadline.fd = _socket_of(connection)
        if deadline.fd is None:
            yield
            return
        deadline.touch()
        me = threading.get_ident()
        with self._cond:
            # The thread sleeps without a time-out while no deadline is pending: none is
            # watched, or only units it cut off already that have not left yet. Wake it then.
            idle = all(other.fired for other in self._watched.values())
            self._watched[me] = deadline
            if idle:
                self._start()
                self._cond.notify()
        try:
            yield
        finally:
            with self._cond:  # the socket stays open until this returns: no stray shutdown
                self._watched.pop(me, None)

    def touch(self) -> None:
        """A statement of the current thread's unit started or finished: move its deadline."""
        deadline = self._watched.get(threading.get_ident())
        if deadline is not None:
            deadline.touch()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="eureka-sql-deadlines", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                pending: list[float] = []
                for deadline in self._watched.values():
                    if deadline.fired:
                        continue
                    if deadline.due <= now:
                        deadline.fired = True
                        _cut_off(deadline.fd)
                    else:
                        pending.append(deadline.due)
                self._cond.wait(min(pending) - now if pending else None)


def _socket_of(connection: sa.Connection) -> int | None:
    """The socket of a driver that waits on it without a time-out of its own (psycopg)."""
    dbapi_connection: Any = connection.connection.dbapi_connection
    fileno = getattr(dbapi_connection, "fileno", None)
    if fileno is None:
        return None
    with contextlib.suppress(Exception):  # a closed or broken connection has none
        fd = fileno()
        return fd if isinstance(fd, int) and fd >= 0 else None
    return None


def _cut_off(fd: int | None) -> None:
    """Shut the socket down (not close it: the driver still owns the descriptor)."""
    if fd is None:
        return
    with contextlib.suppress(OSError):
        duplicate = socket.socket(fileno=os.dup(fd))
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        finally:
            duplicate.close()


#: One watcher (and at most one thread) for the whole process.
watcher = DeadlineWatcher()


def _on_statement(*_args: Any) -> None:
    watcher.touch()


def watch_statements(engine: sa.Engine) -> None:
    """Let each statement on ``engine`` move its unit's deadline on (once per engine).

    Only PostgreSQL's drivers need it: SQLite has no socket and pymysql times out by itself.
    """
    if engine.dialect.name != "postgresql":
        return
    for name in ("before_cursor_execute", "after_cursor_execute"):
        if not event.contains(engine, name, _on_statement):
            event.listen(engine, name, _on_statement)
