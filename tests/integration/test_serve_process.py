"""``eureka-embed serve`` as a process: ready line, graceful stop on SIGTERM and SIGINT."""

from __future__ import annotations

import signal
import socket

import pytest

from tests.server.support import (
    READY,
    ServeProcess,
    app_instances,
    refuses_connections,
    register_body,
    request,
    wait_for,
)


def _read_status(sock: socket.socket) -> int:
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "connection closed before a response"
        head += chunk
    return int(head.split(b" ", 2)[1])


def test_serves_clients_and_announces_itself_once(live_server: ServeProcess) -> None:
    port = live_server.address[1]
    assert live_server.base_url == f"http://127.0.0.1:{port}/eureka/"
    answer = request(
        f"{live_server.base_url}apps/ORDERS",
        "POST",
        body=register_body("ORDERS", "h1:orders:8080"),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status == 204
    assert len(app_instances(live_server.base_url, "ORDERS")) == 1

    live_server.send_signal(signal.SIGTERM)

    assert live_server.wait() == 0
    ready_lines = [line for line in live_server.stderr.lines if READY.search(line)]
    assert len(ready_lines) == 1, live_server.stderr.text()
    assert "Traceback" not in live_server.stderr.text()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_lets_the_request_in_flight_finish_then_exits_0(
    live_server: ServeProcess, signum: signal.Signals
) -> None:
    host, port = live_server.address
    body = register_body("SLOW", "h1:slow:8080")
    sock = socket.create_connection((host, port), timeout=10)
    try:
        # Expect: 100-continue makes the server confirm it holds the request before the signal.
        sock.sendall(
            f"POST /eureka/apps/SLOW HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        assert _read_status(sock) == 100

        live_server.send_signal(signum)
        live_server.stderr.wait_for(f"{signum.name} received, stopping", timeout=10)

        # It no longer accepts connections, but it is still there for the request in flight.
        wait_for(lambda: refuses_connections(port, host), what="the port to close")
        assert live_server.process.poll() is None
        sock.sendall(body)
        assert _read_status(sock) == 204
    finally:
        sock.close()

    assert live_server.wait() == 0
    log = live_server.stderr.text()
    assert "eureka-embed stopped" in log
    assert "Traceback" not in log
    assert "unfinished" not in log


def test_a_second_signal_stops_waiting_for_a_stuck_request(live_server: ServeProcess) -> None:
    host, port = live_server.address
    sock = socket.create_connection((host, port), timeout=10)
    try:
        sock.sendall(
            f"POST /eureka/apps/STUCK HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        assert _read_status(sock) == 100

        live_server.send_signal(signal.SIGTERM)
        live_server.stderr.wait_for("SIGTERM received", timeout=10)
        live_server.send_signal(signal.SIGTERM)

        # Well before the 10 s shutdown timeout.
        assert live_server.wait(timeout=5) == 0
    finally:
        sock.close()
    assert "stopping with 1 request(s) unfinished" in live_server.stderr.text()
