"""Helpers for tests that talk to a real server: plain HTTP, polling, and a server subprocess."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import eureka_embed

T = TypeVar("T")

#: The directory that holds the eureka_embed package, for child processes' PYTHONPATH.
SOURCE_ROOT = Path(eureka_embed.__file__).resolve().parent.parent

READY = re.compile(r"eureka-embed serving on (http://\S+)")

#: The values of ``serve --server``: tests of a live process run on each.
SERVERS = ("waitress", "uvicorn")


# ---------------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        body = self.body
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        return json.loads(body)


def request(
    url: str,
    method: str = "GET",
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 5.0,
) -> Response:
    """One request on a fresh connection; any status comes back (no exception for 4xx)."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None, url
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=body, headers=dict(headers or {}))
        answer = conn.getresponse()
        data = answer.read()
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)
    finally:
        conn.close()


def http_delete_status(url: str) -> int:
    """The status of a DELETE (a cancel)."""
    return request(url, "DELETE").status


def get_json(url: str) -> Any:
    answer = request(url, headers={"Accept": "application/json"})
    assert answer.status == 200, (url, answer.status, answer.body[:500])
    return answer.json()


def app_instances(base_url: str, app: str) -> list[dict[str, Any]]:
    """The instances the server lists for ``app`` (none when it answers 404)."""
    answer = request(f"{base_url}apps/{app}", headers={"Accept": "application/json"})
    if answer.status == 404:
        return []
    assert answer.status == 200, (app, answer.status, answer.body[:500])
    instances: list[dict[str, Any]] = answer.json()["application"]["instance"]
    return instances


def live_instance(base_url: str, app: str, instance_id: str) -> dict[str, Any] | None:
    """One instance with its live lease (lists show leases as of the last change), or None."""
    answer = request(f"{base_url}apps/{app}/{instance_id}", headers={"Accept": "application/json"})
    if answer.status == 404:
        return None
    assert answer.status == 200, (app, instance_id, answer.status, answer.body[:500])
    found: dict[str, Any] = answer.json()["instance"]
    return found


def refuses_connections(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a connection to ``host:port`` is refused (nothing listens there any more)."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        # The listening socket closed during the handshake: the kernel resets the half-made
        # connection. It is closing, not closed yet; ask again (seen on a loaded machine and
        # once in a CI run).
        return False
    return False


def wait_for(probe: Callable[[], T | None], *, timeout: float = 10.0, what: str = "condition") -> T:
    """Call ``probe`` until it returns something other than None/False; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None and result is not False:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def register_body(
    app: str, instance_id: str, *, port: int = 8080, status: str = "UP", ldt: int = 1
) -> bytes:
    """A minimal JSON registration, as Eureka clients send it."""
    return json.dumps(
        {
            "instance": {
                "instanceId": instance_id,
                "hostName": "127.0.0.1",
                "app": app,
                "ipAddr": "127.0.0.1",
                "status": status,
                "port": {"$": port, "@enabled": "true"},
                "vipAddress": app.lower(),
                "dataCenterInfo": {
                    "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
                    "name": "MyOwn",
                },
                "lastDirtyTimestamp": str(ldt),
            }
        }
    ).encode()


JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def register(base_url: str, app: str, instance_id: str, **fields: Any) -> int:
    """POST a minimal JSON registration (see :func:`register_body`); the answer's status."""
    body = register_body(app, instance_id, **fields)
    return request(f"{base_url}apps/{app}", "POST", body=body, headers=JSON_HEADERS).status


def register_short_lease(base_url: str, app: str, instance_id: str, seconds: int) -> int:
    """Register with a lease of ``seconds`` (renewed every second), for expiry tests."""
    payload = json.loads(register_body(app, instance_id))
    payload["instance"]["leaseInfo"] = {"renewalIntervalInSecs": 1, "durationInSecs": seconds}
    body = json.dumps(payload).encode()
    return request(f"{base_url}apps/{app}", "POST", body=body, headers=JSON_HEADERS).status


def register_at_once(sends: Sequence[tuple[str, str, int, int]], app: str = "RACE") -> list[int]:
    """Registrations ``(base_url, instance_id, ldt, port)``, all sent at the same moment."""
    barrier = threading.Barrier(len(sends))
    statuses: list[int] = []

    def send(base_url: str, instance_id: str, ldt: int, port: int) -> None:
        barrier.wait()
        statuses.append(register(base_url, app, instance_id, ldt=ldt, port=port))

    threads = [threading.Thread(target=send, args=args) for args in sends]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return statuses


# ---------------------------------------------------------------------- processes


class LineReader:
    """Collects a pipe's lines on a thread, so a test can wait for one with a deadline."""

    def __init__(self, stream: Any, name: str) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), name=name, daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        try:
            for raw in stream:
                line = raw.rstrip("\n")
                self.lines.append(line)
                self._queue.put(line)
        finally:
            self._queue.put(None)

    def wait_for(self, pattern: re.Pattern[str] | str, timeout: float) -> re.Match[str]:
        """The first line after those already consumed that matches ``pattern``."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"stream ended before {regex.pattern!r}:\n{self.text()}")
            match = regex.search(line)
            if match:
                return match
        raise AssertionError(f"no line matching {regex.pattern!r} in {timeout} s:\n{self.text()}")

    def text(self) -> str:
        return "\n".join(self.lines)

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child Python: this source tree first, no EUREKA_EMBED_* leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EUREKA_EMBED_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SOURCE_ROOT), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


class ServeProcess:
    """``python -m eureka_embed serve`` in a child process, on a free port by default."""

    def __init__(self, args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> None:
        # A fresh registry per test unless the test names a store: the default is a SQLite
        # file in the working directory, which would carry state from one test to the next.
        if not any(arg == "--store" or arg.startswith("--store=") for arg in args):
            args = ["--store", "memory://", *args]
        command = [sys.executable, "-m", "eureka_embed", "serve", "--port", "0", *args]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(env),
        )
        self.stderr = LineReader(self.process.stderr, "serve-stderr")
        self.base_url = ""

    def wait_ready(self, timeout: float = 20.0) -> str:
        self.base_url = self.stderr.wait_for(READY, timeout).group(1)
        return self.base_url

    def wait_copied(self, timeout: float = 20.0) -> None:
        """Until ``/readyz`` answers 200: with peers, the ready line comes when the node
        listens, and its start-up copy ends after it."""
        root = "/".join(self.base_url.split("/")[:3])

        def ready() -> bool:
            try:
                return request(root + "/readyz", timeout=3).status == 200
            except OSError:
                return False

        wait_for(ready, timeout=timeout, what="/readyz 200 (the start-up copy over)")

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.base_url)
        assert parts.hostname is not None and parts.port is not None
        return parts.hostname, parts.port

    def send_signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 15.0) -> int:
        code = self.process.wait(timeout)
        self._release()
        return code

    def _release(self) -> None:
        self.stderr.join()
        if self.process.stderr is not None:
            self.process.stderr.close()

    def terminate(self) -> None:
        """Stop it whatever state it is in: SIGTERM, then SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._release()


@contextmanager
def serve_process(
    args: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> Iterator[ServeProcess]:
    """A ready ``eureka-embed serve`` child; always terminated on exit."""
    server = ServeProcess(args, env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.terminate()
