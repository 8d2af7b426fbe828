"""``UvicornServer``: the node on uvicorn holds its connection limit exactly, refusing past it
with a prompt 503, and serves, drains and stops as the waitress server does."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from eureka_embed.asgi_server import UvicornServer
from eureka_embed.registry import Registry
from tests.server.support import JSON_HEADERS, Response, register_body, request, wait_for

PROMPT_S = 2.5


@contextmanager
def _served_connections(port: int, count: int) -> Iterator[list[socket.socket]]:
    """``count`` keep-alive connections, each having had one answer, then left idle."""
    with ExitStack() as stack:
        held = []
        for _ in range(count):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
            sock.sendall(b"GET /eureka/apps HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200"), "a connection within the limit"
            held.append(sock)
        yield held


def test_the_connection_limit_counts_idle_connections_and_refuses_past_it() -> None:
    with UvicornServer(connection_limit=20, shutdown_timeout=2.0) as server:
        with _served_connections(server.port, 19):
            # The 20th connection is still within the limit.
            assert request(f"{server.base_url}apps").status == 200
        with _served_connections(server.port, 20):
            started = time.monotonic()
            answer = request(f"{server.base_url}apps", timeout=10)

            assert answer.status == 503
            assert time.monotonic() - started < PROMPT_S
            assert answer.headers["connection"] == "close"

        wait_for(
            lambda: request(f"{server.base_url}apps").status == 200,
            timeout=10,
            what="a client served after the idle connections closed",
        )


def test_it_serves_the_api_dashboard_and_metrics_and_closes_only_its_own_registry() -> None:
    registry = Registry()
    with UvicornServer(registry, maintenance=False) as server:
        body = register_body("ORDERS", "h1:orders:8080")
        posted = request(f"{server.base_url}apps/ORDERS", "POST", body=body, headers=JSON_HEADERS)
        assert posted.status == 204
        assert request(f"{server.root_url}/").status == 200
        metrics = request(f"{server.root_url}/metrics").body.decode()
        assert 'route="/eureka/apps/{app}"' in metrics
        assert server.running
    assert not server.running
    assert registry.get_instance("ORDERS", "h1:orders:8080") is not None  # still open: ours


def test_stop_waits_for_a_request_in_flight() -> None:
    server = UvicornServer(maintenance=False, shutdown_timeout=5.0).start()
    host, port = "127.0.0.1", server.port
    body = register_body("SLOW", "h1:slow:8080")
    sock = socket.create_connection((host, port), timeout=10)
    try:
        sock.sendall(
            f"POST /eureka/apps/SLOW HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json"
            f"\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 100")
        stopping = threading.Thread(target=server.stop)
        stopping.start()
        wait_for(lambda: not _accepts(port), what="the port to close")
        sock.sendall(body)
        assert sock.recv(4096).startswith(b"HTTP/1.1 204")
        stopping.join(10)
        assert not stopping.is_alive()
    finally:
        sock.close()


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [({"port": 70000}, "port"), ({"threads": 0}, "threads"), ({"connection_limit": 0}, "limit")],
)
def test_bad_arguments_are_refused(kwargs: dict[str, int], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        UvicornServer(**kwargs)  # type: ignore[arg-type]


def _held_watch(url: str, index: str, wait: str) -> tuple[threading.Thread, list[Response]]:
    answers: list[Response] = []
    thread = threading.Thread(
        target=lambda: answers.append(
            request(f"{url}?index={index}&wait={wait}", headers={"Accept": "application/json"})
        ),
        daemon=True,
    )
    thread.start()
    return thread, answers


def test_a_watch_is_held_until_a_registration_wakes_it() -> None:
    with UvicornServer(maintenance=False) as server:
        url = f"{server.base_url}apps/ORDERS"
        index = request(url, headers={"Accept": "application/json"}).headers["x-eureka-index"]
        thread, answers = _held_watch(url, index, "30s")
        wait_for(lambda: server_watching(server) == 1, what="the watch to be held")

        body = register_body("ORDERS", "h1:orders:8080")
        posted = request(url, "POST", body=body, headers=JSON_HEADERS)
        thread.join(10)

        assert posted.status == 204
        [answer] = answers
        assert answer.status == 200
        assert int(answer.headers["x-eureka-index"]) > int(index)
        assert b"h1:orders:8080" in answer.body


def test_stopping_answers_held_watches_at_once() -> None:
    server = UvicornServer(maintenance=False, shutdown_timeout=30.0).start()
    url = f"{server.base_url}apps"
    index = request(url, headers={"Accept": "application/json"}).headers["x-eureka-index"]
    thread, answers = _held_watch(url, index, "60s")
    wait_for(lambda: server_watching(server) == 1, what="the watch to be held")

    started = time.monotonic()
    server.stop()
    thread.join(10)

    assert time.monotonic() - started < 10  # not the 30 s drain bound, nor the 60 s wait
    assert [answer.status for answer in answers] == [503]  # go watch another node


def server_watching(server: UvicornServer) -> int:
    """Watches held, as /metrics reports them."""
    for line in request(f"{server.root_url}/metrics").body.decode().splitlines():
        if line.startswith("eureka_watches_waiting "):
            return int(float(line.split()[1]))
    raise AssertionError("no eureka_watches_waiting in /metrics")


def _chunked_post(port: int, body: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /eureka/apps/ORDERS HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + f"{len(body):x}\r\n".encode()
            + body
            + b"\r\n0\r\n\r\n"
        )
        return sock.recv(4096)


def test_a_chunked_body_is_read_within_the_limit_and_refused_past_it() -> None:
    with UvicornServer(maintenance=False, max_body_bytes=1000) as server:
        within = register_body("ORDERS", "h1:orders:8080")
        assert len(within) < 1000

        assert _chunked_post(server.port, within).startswith(b"HTTP/1.1 204")
        refused = _chunked_post(server.port, b"{" + b" " * 5000 + b"}")
        assert refused.startswith(b"HTTP/1.1 413")
        assert b"1000" in refused
