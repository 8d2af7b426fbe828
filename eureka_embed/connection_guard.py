"""waitress, guarded: a connection past the limit is refused at once, a request has a deadline.

Why waitress alone is not enough for a registry that every instance of every service talks to:

- At its ``connection_limit`` waitress stops accepting. New connections then wait in the
  listening backlog, unanswered, until an idle keep-alive connection is closed (after its
  120 s idle time-out): a client's heartbeat or registration times out instead of failing over
  to another node. :class:`GuardedServer` keeps accepting and answers a connection past the
  limit with a 503 and ``Connection: close``, which the client's retry layer takes as "ask
  another node".
- waitress's idle time-out restarts with every byte received, so a client that sends a header
  line now and then (slowloris) keeps its connection for ever. :class:`DeadlineChannel` notes
  when the first byte of a request arrived; :meth:`GuardedServer.tick` closes, with a 408, a
  request that has not arrived whole by the deadline. Running the request is not timed: once
  it is complete, it is the application's.
- Refusals and time-outs are told in the log at most once per interval with their count
  (:class:`IntervalCount`): a full node refuses thousands of connections a minute.

All of it runs in the thread of the serving loop, like the rest of waitress's asyncore side.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# waitress ships no type hints, and types-waitress mistypes attributes used here
# (active_channels, the channel's locks): whether the stubs are installed or not, waitress's
# classes are used as Any.
from waitress import adjustments as _adjustments  # type: ignore[import-untyped, unused-ignore]
from waitress import channel as _channel  # type: ignore[import-untyped, unused-ignore]
from waitress import server as _server  # type: ignore[import-untyped, unused-ignore]
from waitress import wasyncore  # type: ignore[import-untyped, unused-ignore]

from eureka_embed.clock import Clock

__all__ = ["ConnectionLimits", "DeadlineChannel", "GuardedServer", "IntervalCount"]

_HTTPChannel: Any = _channel.HTTPChannel
_TcpWSGIServer: Any = _server.TcpWSGIServer
_Dispatcher: Any = wasyncore.dispatcher

log = logging.getLogger(__name__)

# Refused connections are kept open for a moment (see _Refusal), at most this many at a time;
# past that they are closed at once. The file descriptors they hold are budgeted in server.py.
MAX_LINGERING_REFUSALS = 64
_ACCEPT_BATCH = 64
_LINGER_S = 2.0


def _answer(status: str, text: str, *extra: str) -> bytes:
    body = f"{text}\n".encode()
    head = [
        f"HTTP/1.1 {status}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
        *extra,
        "Connection: close",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


_REFUSAL = _answer(
    "503 Service Unavailable",
    "connection limit reached: try another Eureka node",
    # Seconds, as RFC 9110 wants them; the client's retry layer moves to another node anyway.
    "Retry-After: 1",
)
_TIMED_OUT = _answer("408 Request Timeout", "the request did not arrive in time")


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How many connections a server holds, and how long a request may take to arrive."""

    #: Open HTTP connections (idle keep-alive ones included); more are answered 503 at once.
    connection_limit: int
    #: Seconds from a request's first byte until its headers and body must all be in.
    request_timeout_s: float
    #: Refusals and time-outs are logged at most once per this many seconds, with a count.
    log_interval_s: float = 60.0


class IntervalCount:
    """Counts events and logs them at most once per interval.

    The first event after a quiet interval is told at once, so the log says when trouble
    starts; those that follow within the interval are told together, with their count, when
    it ends (on an event or on :meth:`flush`, which the serving loop calls often).
    """

    def __init__(
        self, describe: Callable[[int, float | None], str], clock: Clock, interval_s: float
    ) -> None:
        self._describe = describe
        self._clock = clock
        self._interval_ms = interval_s * 1000
        self._count = 0
        self._last_told_ms: int | None = None
        self.total = 0

    def add(self) -> None:
        self._count += 1
        self.total += 1
        self.flush()

    def flush(self) -> None:
        if not self._count:
            return
        now = self._clock.now_ms()
        last = self._last_told_ms
        if last is not None and now - last < self._interval_ms:
            return
        since = None if last is None else (now - last) / 1000
        log.warning(self._describe(self._count, since))
        self._count = 0
        self._last_told_ms = now


class DeadlineChannel(_HTTPChannel):  # type: ignore[misc]
    """waitress's HTTP connection, noting when the request being received began to arrive."""

    #: time.monotonic() of the first byte of the request still being received, else None.
    receiving_since: float | None = None
    _receiving: object = None  # the parser of that request
    close_when_flushed: bool  # waitress's: set here too, declared for the type checker

    def received(self, data: bytes) -> bool:
        arrived = time.monotonic()
        try:
            return bool(super().received(data))
        finally:
            # A parser that is not the one we timed is a new request: its clock starts with the
            # data that began it (with pipelining, a request may end and the next begin here).
            if self.request is None:
                self._receiving = self.receiving_since = None
            elif self.request is not self._receiving:
                self._receiving, self.receiving_since = self.request, arrived

    def expire(self, now: float, timeout_s: float) -> bool:
        """Answer 408 and close if the request being received is past its deadline."""
        since = self.receiving_since
        if since is None or now - since < timeout_s:
            return False
        # Lock order as in waitress's received(): requests, then outbufs.
        with self.requests_lock:
            # Requests already complete are running or queued: their answers go first, and
            # the one still arriving gets its deadline checked again once they are done.
            if self.requests or self.will_close or self.close_when_flushed:
                return False
            with self.outbuf_lock:
                self.outbufs[-1].append(_TIMED_OUT)
                self.current_outbuf_count += len(_TIMED_OUT)
                self.total_outbufs_len += len(_TIMED_OUT)
            self.close_when_flushed = True  # the loop writes the 408, then closes
        self._receiving = self.receiving_since = None
        return True


class _Refusal(_Dispatcher):  # type: ignore[misc]
    """A refused connection: writes the 503, then reads and drops what the client sends.

    Closing at once would throw away the request the client is sending, and a socket closed
    with unread data answers with a reset, which may reach the client before the 503 does.
    Reading until the client closes (or briefly) lets it see the 503.
    """

    def __init__(self, server: GuardedServer, sock: socket.socket) -> None:
        super().__init__(sock, map=server.socket_map)
        self._server = server
        self._pending = _REFUSAL
        self.deadline = time.monotonic() + _LINGER_S
        server.lingering.add(self)
        self.handle_write()

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return bool(self._pending)

    def handle_read(self) -> None:
        self.recv(4096)  # an empty read (the client closed) calls handle_close

    def handle_write(self) -> None:
        sent = self.send(self._pending)
        self._pending = self._pending[sent:]
        if not self._pending and self.socket is not None:
            try:
                self.socket.shutdown(socket.SHUT_WR)
            except OSError:
                self.handle_close()

    def handle_close(self) -> None:
        self.close()

    def close(self) -> None:
        self._server.lingering.discard(self)
        super().close()


class GuardedServer(_TcpWSGIServer):  # type: ignore[misc]
    """waitress's TCP server on a socket bound by the caller, with :class:`ConnectionLimits`.

    The serving loop calls :meth:`tick` after each poll. ``adj`` must leave waitress's own
    ``connection_limit`` out of reach (this class enforces ours), see :func:`adjustments`.
    """

    channel_class = DeadlineChannel

    def __init__(
        self,
        app: Any,
        sock: socket.socket,
        *,
        socket_map: dict[int, Any],
        adj: Any,
        limits: ConnectionLimits,
        clock: Clock,
    ) -> None:
        self.limits = limits
        self.socket_map = socket_map
        self.lingering: set[_Refusal] = set()
        limit = limits.connection_limit
        self.refusals = IntervalCount(
            lambda count, since: (
                f"refused {count} connection(s)"
                + (f" in the last {since:.0f} s" if since is not None else "")
                + f" with 503: the node holds {limit} (--connection-limit)"
            ),
            clock,
            limits.log_interval_s,
        )
        self.timeouts = IntervalCount(
            lambda count, since: (
                f"closed {count} connection(s)"
                + (f" in the last {since:.0f} s" if since is not None else "")
                + " whose request did not arrive within "
                + f"{limits.request_timeout_s:g} s (--request-timeout)"
            ),
            clock,
            limits.log_interval_s,
        )
        # Scan often enough to close a late request soon after its deadline, not so often that
        # walking every connection costs more than serving them.
        self._scan_every = min(1.0, limits.request_timeout_s / 4)
        self._next_scan = 0.0
        sockinfo = (sock.family, sock.type, sock.proto, sock.getsockname())
        super().__init__(app, socket_map, _sock=sock, adj=adj, bind_socket=False, sockinfo=sockinfo)

    def readable(self) -> bool:
        # waitress's readable() also runs its idle-connection clean-up: keep that, but accept
        # whenever listening, since handle_accept answers what is past the limit.
        super().readable()
        return bool(self.accepting)

    def handle_accept(self) -> None:
        # waitress accepts one connection per turn of the loop, and each turn walks every open
        # connection: after a restart, when every client reconnects at once, accepting them
        # took minutes (O(n^2)). Take what the backlog holds, a bounded batch per turn.
        for _ in range(_ACCEPT_BATCH):
            try:
                accepted = self.accept()
            except OSError:  # the client gave up already, or no descriptor is left
                return
            if accepted is None:  # the backlog is empty
                return
            conn, addr = accepted
            if len(self.active_channels) < self.limits.connection_limit:
                self._serve_connection(conn, addr)
            else:
                self._refuse(conn)

    def _serve_connection(self, conn: socket.socket, addr: Any) -> None:
        # What waitress's handle_accept does with a connection it accepted.
        try:
            self.set_socket_options(conn)
        except OSError:  # the client closed it already
            conn.close()
            return
        self.channel_class(self, conn, self.fix_addr(addr), self.adj, map=self._map)

    def _refuse(self, conn: socket.socket) -> None:
        self.refusals.add()
        if len(self.lingering) < MAX_LINGERING_REFUSALS:
            _Refusal(self, conn)
            return
        try:  # too many lingering already: the 503 if it fits in the buffer, then close
            conn.setblocking(False)
            conn.send(_REFUSAL)
        except OSError:
            pass
        conn.close()

    def tick(self) -> None:
        """Close requests past their deadline and lingering refusals; tell the counts."""
        now = time.monotonic()
        if now >= self._next_scan:
            self._next_scan = now + self._scan_every
            timeout = self.limits.request_timeout_s
            for channel in list(self.active_channels.values()):
                if channel.expire(now, timeout):
                    self.timeouts.add()
            for refusal in [r for r in self.lingering if now >= r.deadline]:
                refusal.close()
        self.refusals.flush()
        self.timeouts.flush()


def adjustments(**settings: Any) -> Any:
    """waitress's Adjustments for a :class:`GuardedServer`: its own connection limit disabled."""
    # waitress stops accepting when its socket map reaches connection_limit; GuardedServer
    # refuses past its own limit instead, so waitress's must never be reached.
    return _adjustments.Adjustments(**settings, connection_limit=1 << 30)
