"""Ending an HTTP exchange in flight from another thread, through every client layer.

A watch holds its request open for up to its wait (30 s by default); a client shutting down
must not wait that long. The layers between the discovery client and the socket (sessioned,
retrying, redirecting, metrics, REST) have no say in this, so the signal travels beside the
call instead of through it: the caller arms an :class:`AbortSignal` for the calls it makes in
its thread (a context variable), a transport that can abort (urllib3's) attaches each
exchange's connection to the armed signal, and :meth:`AbortSignal.abort` shuts those sockets
down, which wakes the blocked read at once. Transports that cannot abort ignore the signal.
"""

from __future__ import annotations

import contextvars
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

__all__ = ["AbortSignal", "Abortable", "current_abort_signal"]

log = logging.getLogger(__name__)


class Abortable(Protocol):
    """A connection whose socket can be reached (``http.client.HTTPConnection`` is one)."""

    sock: socket.socket | None


_ARMED: contextvars.ContextVar[AbortSignal | None] = contextvars.ContextVar(
    "eureka_embed_abort_signal", default=None
)


def current_abort_signal() -> AbortSignal | None:
    """The signal armed in this thread's context, if any."""
    return _ARMED.get()


class AbortSignal:
    """Once :meth:`abort` is called, every exchange attached to it ends with a lost connection,
    and every later one fails at once. Not reset: one signal per client life."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attached: set[Abortable] = set()
        self._aborted = False

    @property
    def aborted(self) -> bool:
        return self._aborted

    @contextmanager
    def armed(self) -> Iterator[AbortSignal]:
        """Attach the exchanges made in this context (this thread) while the block runs."""
        token = _ARMED.set(self)
        try:
            yield self
        finally:
            _ARMED.reset(token)

    @contextmanager
    def attached(self, connection: Abortable) -> Iterator[None]:
        """Make ``connection`` abortable while its exchange runs.

        :raises ConnectionAbortedError: the signal was already given.
        """
        with self._lock:
            if self._aborted:
                raise ConnectionAbortedError("the exchange was aborted: the client is stopping")
            self._attached.add(connection)
        try:
            yield
        finally:
            with self._lock:
                self._attached.discard(connection)

    def abort(self) -> None:
        """End the attached exchanges now and refuse new ones. Idempotent."""
        with self._lock:
            self._aborted = True
            attached = list(self._attached)
        for connection in attached:
            sock = connection.sock
            if sock is None:
                continue
            try:
                # shutdown, not close: it wakes a thread blocked reading this socket, while
                # close leaves that read waiting for the server.
                sock.shutdown(socket.SHUT_RDWR)
            except OSError as exc:  # already closed by its own thread: nothing to end
                log.debug("aborting an exchange: %s", exc)
