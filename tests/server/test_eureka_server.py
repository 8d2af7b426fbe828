"""EurekaServer in-process: serving, addresses, ownership, maintenance, and graceful stops."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from xml.etree import ElementTree

import pytest

from eureka_embed.config import RegistryConfig
from eureka_embed.model import LeaseInfo
from eureka_embed.registry import Registry
from eureka_embed.server import EurekaServer
from eureka_embed.storage import MemoryStore
from eureka_embed.wsgi import create_app
from tests.registry.helpers import instance
from tests.server.support import (
    app_instances,
    get_json,
    refuses_connections,
    register_body,
    request,
    wait_for,
)


@pytest.fixture
def server() -> Iterator[EurekaServer]:
    running = EurekaServer(shutdown_timeout=5.0)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _start_upload(port: int, app: str, length: int) -> socket.socket:
    """A registration whose body has not been sent, known to be in the server's hands.

    ``Expect: 100-continue`` makes the server say when it has read the headers, so the test
    knows the request is in flight before it stops the server.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        f"POST /eureka/apps/{app} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n"
        "Expect: 100-continue\r\n\r\n".encode()
    )
    assert _read_status(sock) == 100
    return sock


def _read_status(sock: socket.socket) -> int:
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "connection closed before a response"
        head += chunk
    return int(head.split(b" ", 2)[1])


def test_serves_the_eureka_api_on_the_port_it_picked(server: EurekaServer) -> None:
    assert server.port != 0
    assert server.base_url == f"http://127.0.0.1:{server.port}/eureka/"
    assert server.root_url == f"http://127.0.0.1:{server.port}"

    answer = request(
        f"{server.base_url}apps/ORDERS",
        "POST",
        body=register_body("ORDERS", "h1:orders:8080"),
        headers={"Content-Type": "application/json"},
    )

    assert (answer.status, answer.body) == (204, b"")
    assert [i["instanceId"] for i in app_instances(server.base_url, "ORDERS")] == ["h1:orders:8080"]
    netflix_path = get_json(f"{server.root_url}/eureka/v2/apps/ORDERS")
    assert netflix_path["application"]["name"] == "ORDERS"
    assert request(f"{server.root_url}/metrics").status == 200


def test_ready_line_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="eureka_embed.server")
    with EurekaServer() as server:
        request(f"{server.base_url}apps")

    ready = [r.getMessage() for r in caplog.records if "serving on" in r.getMessage()]
    assert ready == [f"eureka-embed serving on {server.base_url}"]


def test_stop_closes_the_port_and_is_idempotent() -> None:
    server = EurekaServer().start()
    port = server.port
    assert server.running

    server.stop()
    server.stop()

    assert not server.running
    assert refuses_connections(port)


def test_a_server_serves_once() -> None:
    server = EurekaServer()
    server.start()
    server.stop()

    with pytest.raises(RuntimeError, match="create a new one"):
        server.start()


def test_listen_binds_before_serving_and_stop_releases_it() -> None:
    server = EurekaServer().listen()
    port = server.port
    assert port != 0
    assert not server.running

    server.stop()

    assert refuses_connections(port)


def test_a_port_in_use_fails_at_listen() -> None:
    with EurekaServer() as first:
        second = EurekaServer(port=first.port)
        with pytest.raises(OSError, match="in use"):
            second.listen()
        second.stop()


def test_ipv6_addresses_are_bracketed_in_urls() -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with EurekaServer(host="::1") as server:
        assert server.base_url == f"http://[::1]:{server.port}/eureka/"
        assert request(f"{server.base_url}apps").status == 200


def test_a_registry_it_made_is_closed_one_given_is_not() -> None:
    closed: list[str] = []

    class Tracked(MemoryStore):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def close(self) -> None:
            closed.append(self.name)
            super().close()

    given = Registry(Tracked("given"))
    with EurekaServer(given):
        pass
    own = EurekaServer()
    own.registry.store = Tracked("own")
    with own:
        pass

    assert closed == ["own"]


def test_maintenance_evicts_expired_leases() -> None:
    config = RegistryConfig(self_preservation=False, eviction_interval_ms=50)
    registry = Registry(config=config)
    with EurekaServer(registry) as server:
        short_lease = instance(1, "SHORT").evolve(
            lease_info=LeaseInfo(renewal_interval_secs=1, duration_secs=1)
        )
        registry.register(short_lease)
        assert app_instances(server.base_url, "SHORT")

        wait_for(lambda: registry.evicted_total == 1, timeout=10, what="the lease's eviction")

        assert app_instances(server.base_url, "SHORT") == []


def test_a_ten_megabyte_registry_comes_back_whole(server: EurekaServer) -> None:
    for n in range(10_000):
        server.registry.register(instance(n, f"APP{n % 100}"))

    # No Accept header: XML, the biggest form, as py_eureka_client asks for it.
    answer = request(f"{server.base_url}apps/", timeout=30)

    assert answer.status == 200
    assert len(answer.body) > 8_000_000
    assert len(ElementTree.fromstring(answer.body).findall("application/instance")) == 10_000


def test_stop_finishes_a_request_still_being_received(server: EurekaServer) -> None:
    body = register_body("SLOW", "h1:slow:8080")
    sock = _start_upload(server.port, "SLOW", len(body))
    try:
        stopping = threading.Thread(target=server.stop)
        stopping.start()

        # New connections are refused at once, while the request in flight still runs.
        wait_for(lambda: refuses_connections(server.port), what="the port to close")
        assert stopping.is_alive()
        sock.sendall(body)

        assert _read_status(sock) == 204
        stopping.join(10)
        assert not stopping.is_alive()
    finally:
        sock.close()
    assert server.registry.get_instance("SLOW", "h1:slow:8080") is not None


def test_stop_closes_idle_keep_alive_connections_at_once(server: EurekaServer) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        sock.sendall(f"GET /eureka/apps HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
        assert _read_status(sock) == 200

        started = time.monotonic()
        server.stop()

        assert time.monotonic() - started < 2.0
        sock.settimeout(5)
        while sock.recv(65536):  # the rest of the response, then the close
            pass
    finally:
        sock.close()


def test_stop_gives_up_on_a_request_that_never_completes(caplog: pytest.LogCaptureFixture) -> None:
    server = EurekaServer(shutdown_timeout=0.3).start()
    sock = _start_upload(server.port, "STUCK", 1000)
    try:
        started = time.monotonic()
        server.stop()

        assert time.monotonic() - started < 3.0
        assert "stopping with 1 request(s) unfinished" in caplog.text
    finally:
        sock.close()


def test_serve_forever_runs_until_request_stop() -> None:
    server = EurekaServer().listen()
    serving = threading.Thread(target=server.serve_forever, kwargs={"handle_signals": False})
    serving.start()
    try:
        assert request(f"{server.base_url}apps").status == 200
    finally:
        server.request_stop()
        serving.join(10)
    assert not serving.is_alive()
    assert refuses_connections(server.port)


def test_signal_handling_needs_the_main_thread() -> None:
    server = EurekaServer()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            server.serve_forever()
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    thread.join(10)

    assert len(errors) == 1
    assert "main thread" in str(errors[0])
    server.stop()


def test_a_queue_of_requests_does_not_flood_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with EurekaServer(threads=1) as server:
        callers = [
            threading.Thread(
                target=lambda: [request(f"{server.base_url}apps") for _ in range(10)],
            )
            for _ in range(8)
        ]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(30)

    assert "Task queue depth" not in caplog.text


def test_serves_a_larger_app_that_mounts_the_eureka_one() -> None:
    registry = Registry()
    eureka = create_app(registry)

    def site(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"].startswith("/eureka/"):
            return eureka(environ, start_response)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"the rest of the site"]

    with EurekaServer(registry, app=site) as server:
        registry.register(instance(1))

        assert request(f"{server.root_url}/shop").body == b"the rest of the site"
        assert len(app_instances(server.base_url, "ORDERS")) == 1
