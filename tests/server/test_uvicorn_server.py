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
from tests.server.support import JSON_HEADERS, register_body, request, wait_for

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
