"""A node stays reachable: a connection past the limit is refused at once, and a request that
trickles in (slowloris) is closed at its deadline instead of holding its connection for good."""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from waitress import wasyncore  # type: ignore[import-untyped, unused-ignore]

from eureka_embed.clock import ManualClock
from eureka_embed.connection_guard import ConnectionLimits, GuardedServer, adjustments
from eureka_embed.server import EurekaServer
from tests.server.support import request, serve_process, wait_for

#: Generous for a loaded machine, far below the time-outs that hid the bug (waitress's 120 s).
PROMPT_S = 2.5


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


@contextmanager
def _idle_connections(port: int, count: int) -> Iterator[list[socket.socket]]:
    with ExitStack() as stack:
        yield [stack.enter_context(_connect(port)) for _ in range(count)]


def _timed_status(url: str) -> tuple[int, float]:
    started = time.monotonic()
    status = request(url, timeout=10).status
    return status, time.monotonic() - started


def test_a_client_past_the_connection_limit_gets_a_prompt_503() -> None:
    with EurekaServer(connection_limit=20, shutdown_timeout=2.0) as server:
        with _idle_connections(server.port, 20):
            started = time.monotonic()
            answer = request(f"{server.base_url}apps", timeout=10)
            elapsed = time.monotonic() - started

            assert answer.status == 503
            assert elapsed < PROMPT_S
            assert answer.headers["connection"] == "close"
            assert answer.headers["retry-after"].isdigit()
            assert b"connection limit" in answer.body

        # Once the idle connections are gone, the node serves new clients again.
        wait_for(
            lambda: request(f"{server.base_url}apps").status == 200,
            timeout=10,
            what="a client served after the idle connections closed",
        )


def _trickle(sock: socket.socket, pieces: Iterator[bytes], interval: float, until: float) -> str:
    """Send one piece every ``interval`` until the server closes the connection or ``until``.

    Returns how the connection ended: the status line the server sent, "closed", or "open".
    """
    while time.monotonic() < until:
        try:
            readable, _, _ = select.select([sock], [], [], interval)
            if readable:
                answer = sock.recv(4096)
                return answer.split(b"\r\n", 1)[0].decode() if answer else "closed"
            sock.sendall(next(pieces))
        except (ConnectionResetError, BrokenPipeError):
            return "closed"
    return "open"


def _header_lines() -> Iterator[bytes]:
    yield b"GET /eureka/apps HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    n = 0
    while True:
        n += 1
        yield f"X-Slow-{n}: y\r\n".encode()


def _body_bytes() -> Iterator[bytes]:
    yield (
        b"POST /eureka/apps/SLOW HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"
    )
    while True:
        yield b" "


@pytest.mark.parametrize("pieces", [_header_lines, _body_bytes], ids=["headers", "body"])
def test_a_request_trickling_in_is_closed_at_its_deadline(
    pieces: Callable[[], Iterator[bytes]],
) -> None:
    # Every connection the node has is a slowloris; a byte every 0.2 s defeats an idle time-out.
    with EurekaServer(connection_limit=4, request_timeout=2.0, shutdown_timeout=2.0) as server:
        sockets = [_connect(server.port) for _ in range(4)]
        try:
            ends: list[tuple[str, float]] = []
            started = time.monotonic()

            def slowloris(sock: socket.socket) -> None:
                end = _trickle(sock, pieces(), 0.2, until=started + 15)
                ends.append((end, time.monotonic() - started))

            threads = [threading.Thread(target=slowloris, args=(s,)) for s in sockets]
            for thread in threads:
                thread.start()
            assert _timed_status(f"{server.base_url}apps")[0] == 503  # the node is full
            for thread in threads:
                thread.join(20)

            assert len(ends) == 4
            for end, after in ends:
                assert end in ("HTTP/1.1 408 Request Timeout", "closed")
                assert 1.5 < after < 2.0 + 4.0
            status, elapsed = _timed_status(f"{server.base_url}apps")
            assert (status, elapsed < PROMPT_S) == (200, True)
        finally:
            for sock in sockets:
                sock.close()


def test_a_complete_request_is_never_timed_out_by_a_slow_app() -> None:
    # The deadline covers receiving a request, not running it: a slow answer still arrives.
    release = threading.Event()

    def slow_app(environ: dict[str, object], start_response: object) -> list[bytes]:
        release.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
        return [b"done"]

    with EurekaServer(app=slow_app, request_timeout=1.0, shutdown_timeout=2.0) as server:
        timer = threading.Timer(2.5, release.set)
        timer.start()
        try:
            answer = request(f"{server.root_url}/slow", timeout=10)
        finally:
            timer.cancel()
            release.set()

    assert (answer.status, answer.body) == (200, b"done")


def _refusal_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]


def test_refusals_are_logged_once_per_interval_with_their_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="eureka_embed")
    clock = ManualClock()
    server = EurekaServer(connection_limit=2, clock=clock, shutdown_timeout=2.0)
    with server, _idle_connections(server.port, 2):
        statuses = [request(f"{server.base_url}apps").status for _ in range(5)]

        assert statuses == [503] * 5
        # The first refusal is told at once, the rest wait for the interval to end.
        assert len(_refusal_lines(caplog)) == 1
        assert "refused 1 connection" in _refusal_lines(caplog)[0]
        assert "--connection-limit" in _refusal_lines(caplog)[0]

        clock.advance(seconds=61)
        wait_for(lambda: len(_refusal_lines(caplog)) == 2, timeout=10, what="the count")

        assert "refused 4 connection(s) in the last 61 s" in _refusal_lines(caplog)[1]
        # After a quiet interval, the next refusal is told at once again.
        clock.advance(seconds=61)
        wait_for(lambda: request(f"{server.base_url}apps").status == 503, what="a refusal")
        assert len(_refusal_lines(caplog)) == 3
        assert "refused 1 connection" in _refusal_lines(caplog)[2]


def test_serve_takes_both_limits_from_flag_or_environment() -> None:
    env = {"EUREKA_EMBED_REQUEST_TIMEOUT": "1"}
    with serve_process(["--connection-limit", "2"], env=env) as node:
        host, port = node.address
        with ExitStack() as stack:
            for _ in range(2):
                sock = stack.enter_context(socket.create_connection((host, port), timeout=10))
                sock.sendall(b"GET /eureka/apps HTTP/1.1\r\n")  # and never the rest

            assert _timed_status(f"{node.base_url}apps")[0] == 503
            node.stderr.wait_for(r"refused 1 connection\(s\) with 503: the node holds 2", 10)
            # The two requests that never finish are closed after a second: room again.
            wait_for(
                lambda: request(f"{node.base_url}apps").status == 200,
                timeout=10,
                what="the half-sent requests to be closed",
            )


def test_one_turn_of_the_loop_accepts_every_waiting_connection() -> None:
    # After a restart every client reconnects at once; one accept per turn of the loop (each
    # turn walks all connections) made that take minutes for thousands of clients.
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    socket_map: dict[int, Any] = {}
    limits = ConnectionLimits(connection_limit=6, request_timeout_s=30.0)
    guarded = GuardedServer(
        lambda environ, start_response: [],
        listener,
        socket_map=socket_map,
        adj=adjustments(threads=1),
        limits=limits,
        clock=ManualClock(),
    )
    port = listener.getsockname()[1]
    try:
        with _idle_connections(port, 10) as clients:
            guarded.handle_accept()

            assert len(guarded.active_channels) == 6
            assert guarded.refusals.total == 4
            refused = clients[6:]
            for sock in refused:
                assert sock.recv(4096).startswith(b"HTTP/1.1 503 ")
    finally:
        guarded.task_dispatcher.shutdown(cancel_pending=True, timeout=1.0)
        wasyncore.close_all(socket_map)
