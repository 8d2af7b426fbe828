"""The deadline watcher (storage/sql_deadline.py) with two units of work at once, over plain
local TCP sockets standing in for two database connections of a driver without a time-out of
its own (no database needed; found by mutation testing):

- a unit that starts while another, already cut off, has not yet left its watch is still cut
  off at its own deadline (the watcher used to sleep on without a time-out then);
- a socket that the peer has reset by the time its deadline passes (shutting it down fails)
  does not stop the watcher from cutting off the other unit.

The process-wide watcher is used, as the store does: its thread is meant to be the only one.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import sqlalchemy as sa

from eureka_embed.storage.sql_deadline import Deadline, watcher

#: Bounds a failing test only: a cut-off is expected within milliseconds of its deadline.
WAIT_S = 5.0


@contextlib.contextmanager
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected (client, server) pair of TCP sockets on the loopback."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    with client, server:
        yield client, server


def connection_on(sock: socket.socket) -> sa.Connection:
    """What the watcher reads of a SQLAlchemy connection: its driver connection's fileno()."""
    return cast(sa.Connection, SimpleNamespace(connection=SimpleNamespace(dbapi_connection=sock)))


def cut_off(server: socket.socket) -> bool:
    """Whether the client's end of ``server``'s connection was shut down (EOF), within WAIT_S."""
    server.settimeout(WAIT_S)
    try:
        return server.recv(1) == b""
    except TimeoutError:
        return False


def watched_in_a_thread(
    sock: socket.socket, deadline: Deadline
) -> tuple[threading.Event, threading.Event, threading.Thread]:
    """The watcher watches ``deadline`` on ``sock`` from a thread of its own (units are by
    thread) until the second event is set; the first says the watch began."""
    began, leave = threading.Event(), threading.Event()

    def unit() -> None:
        with watcher.watch(connection_on(sock), deadline):
            began.set()
            leave.wait(WAIT_S)

    thread = threading.Thread(target=unit)
    thread.start()
    assert began.wait(WAIT_S)
    return began, leave, thread


def test_a_unit_starting_beside_one_already_cut_off_is_cut_off_at_its_deadline() -> None:
    with tcp_pair() as (client_a, server_a), tcp_pair() as (client_b, server_b):
        first = Deadline(0.05)
        _, leave_a, thread_a = watched_in_a_thread(client_a, first)
        try:
            assert cut_off(server_a)
            assert first.fired  # and its unit has not left its watch yet
            second = Deadline(0.1)
            _, leave_b, thread_b = watched_in_a_thread(client_b, second)
            try:
                assert cut_off(server_b), "the second unit was never cut off"
                assert second.fired
            finally:
                leave_b.set()
                thread_b.join(WAIT_S)
        finally:
            leave_a.set()
            thread_a.join(WAIT_S)


def test_a_socket_reset_before_its_deadline_does_not_stop_the_watcher() -> None:
    with tcp_pair() as (client_a, server_a), tcp_pair() as (client_b, server_b):
        # The peer resets the first connection: shutting its socket down then fails (ENOTCONN).
        server_a.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        server_a.close()
        reset = Deadline(0.05)
        other = Deadline(0.5)
        units: list[Any] = []
        try:
            units.append(watched_in_a_thread(client_a, reset))
            units.append(watched_in_a_thread(client_b, other))
            started = time.monotonic()
            while not reset.fired and time.monotonic() - started < WAIT_S:
                time.sleep(0.01)  # the watcher's own thread decides when; only observed here
            assert reset.fired
            assert cut_off(server_b), "the watcher stopped after the failed cut-off"
        finally:
            for _, leave, thread in units:
                leave.set()
                thread.join(WAIT_S)
