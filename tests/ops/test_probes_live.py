"""The probes of a real ``eureka-embed serve`` process: its own PostgreSQL stopped and started
(a private one: the machine's is shared), and a start-up copy from a peer that is slow to
answer; the JSON log lines of the same process."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.reliability.private_databases import private_postgres
from tests.server.support import ServeProcess, request, serve_process, wait_for

pytestmark = pytest.mark.slow

_EMPTY_REGISTRY = json.dumps(
    {"applications": {"versions__delta": "1", "apps__hashcode": "", "application": []}}
).encode()


def probe(base: str, path: str) -> int | None:
    """The probe's status, or None while nothing answers on the port."""
    try:
        return request(base + path, timeout=3).status
    except OSError:
        return None


def test_readyz_follows_the_store_while_healthz_stays_200() -> None:
    with (
        private_postgres() as database,
        serve_process(["--store", database.url, "--auto-migrate", "--log-format", "json"]) as node,
    ):
        # The ready line is inside a JSON record here: the root is what precedes the path.
        root = "/".join(node.base_url.split("/")[:3])
        assert probe(root, "/readyz") == 200

        database.stop()
        wait_for(lambda: probe(root, "/readyz") == 503, timeout=15, what="readyz 503")
        answer = request(root + "/readyz")
        assert b"not ready: the store does not answer" in answer.body
        assert probe(root, "/healthz") == 200

        database.start()
        wait_for(lambda: probe(root, "/readyz") == 200, timeout=15, what="readyz 200 again")
        records = [json.loads(line) for line in node.stderr.text().splitlines() if line]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any("unreachable" in record["message"] for record in records)


class _SlowPeer(http.server.BaseHTTPRequestHandler):
    """A peer whose registry read waits until the test lets it answer."""

    release: threading.Event
    asked: threading.Event

    def do_GET(self) -> None:
        self.asked.set()
        self.release.wait(20)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(_EMPTY_REGISTRY)))
        self.end_headers()
        self.wfile.write(_EMPTY_REGISTRY)

    def do_POST(self) -> None:  # replication batches after the copy: none expected to matter
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def slow_peer() -> Iterator[tuple[str, threading.Event, threading.Event]]:
    release, asked = threading.Event(), threading.Event()
    handler = type("Handler", (_SlowPeer,), {"release": release, "asked": asked})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/eureka/", release, asked
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize("server", ["waitress", "uvicorn"])
def test_readyz_answers_503_while_the_start_up_copy_runs_then_200(server: str) -> None:
    with slow_peer() as (peer_url, release, asked):
        node = ServeProcess(["--server", server, "--peer", peer_url])
        try:
            # The ready line comes when the node listens, not when the copy is over.
            base = node.wait_ready()
            root = "/".join(base.split("/")[:3])
            assert asked.wait(15), "the node never asked its peer for the registry"

            copying = request(root + "/readyz")
            assert copying.status == 503
            assert b"start-up copy from peers in progress" in copying.body
            assert peer_url.encode() in copying.body  # which peer it waits for
            assert probe(root, "/healthz") == 200
            # As Eureka's shouldAllowAccess: no full or delta fetch of a half-copied registry.
            assert request(base + "apps").status == 403
            assert request(base + "apps/delta").status == 403
            assert (
                b"start-up copy"
                in request(base + "status", headers={"Accept": "application/json"}).body
            )

            release.set()
            wait_for(lambda: probe(root, "/readyz") == 200, timeout=20, what="ready after copy")
            assert request(base + "apps").status == 200
            assert probe(root, "/healthz") == 200
        finally:
            node.terminate()
