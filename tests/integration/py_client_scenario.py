"""py_eureka_client (from PyPI) against a Eureka server, reporting what happens as JSON lines.

Usage: ``python py_client_scenario.py EUREKA_URL caller|greeter``; ``test_py_eureka_client.py``
runs one process per role and drives them through stdin:

- ``greeter`` registers PY-GREETER for a tiny HTTP service on a free port and reports
  ``started``; on ``stop`` it deregisters and reports ``stopped``.
- ``caller`` registers PY-CALLER, fetches the registry and reports ``started`` with the
  applications it saw; once PY-GREETER shows up (through a delta, as it registers later), it
  calls it through the library's ``do_service`` and reports ``discovered``. On ``wait-gone`` it
  reports ``gone`` once PY-GREETER has left its copy of the registry; on ``stop`` it
  deregisters and reports ``stopped``.

Every HTTP request the library makes is reported as a ``request`` event.

One process per client, because the library keeps module-wide state and a heartbeat thread
that ``EurekaClient.stop`` cannot end: left running, it registers the instance again at its
next tick. So each client is stopped just after one of its heartbeats, a whole interval before
the next, and its process ends right away.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlsplit

import py_eureka_client.logger  # type: ignore[import-untyped, unused-ignore]
from py_eureka_client import http_client  # type: ignore[import-untyped, unused-ignore]
from py_eureka_client.eureka_client import EurekaClient  # type: ignore[import-untyped, unused-ignore]

HEARTBEAT_SECONDS = 1
CALLER_PORT = 8001
GREETING = "hello from greeter"


_output = threading.Lock()


def emit(event: str, **fields: Any) -> None:
    # Heartbeat and main threads both report: one write per line, under a lock, or lines mix.
    line = json.dumps({"event": event, **fields}) + "\n"
    with _output:
        sys.stdout.write(line)
        sys.stdout.flush()


class RecordingHttpClient(http_client.HttpClient):  # type: ignore[misc, unused-ignore]
    """The library's own HTTP client, reporting each request and noting heartbeats."""

    def __init__(self) -> None:
        self.heartbeat = threading.Event()

    async def urlopen(self, request: Any = None, data: Any = None, timeout: Any = None) -> Any:
        method = getattr(request, "method", "GET")
        path = urlsplit(getattr(request, "url", request)).path
        try:
            response = await super().urlopen(request, data, timeout)
        except HTTPError as exc:
            emit("request", method=method, path=path, status=exc.code)
            raise
        status = response.raw_response.status_code
        emit("request", method=method, path=path, status=status)
        if method == "PUT" and status == 200:
            self.heartbeat.set()
        return response

    def next_heartbeat(self, timeout: float) -> bool:
        self.heartbeat.clear()
        return self.heartbeat.wait(timeout)


class Greeter(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = GREETING.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def new_client(eureka_url: str, app: str, port: int, *, discover: bool) -> Any:
    return EurekaClient(
        eureka_server=eureka_url,
        app_name=app,
        instance_host="127.0.0.1",
        instance_ip="127.0.0.1",
        instance_port=port,
        renewal_interval_in_secs=HEARTBEAT_SECONDS,
        duration_in_secs=30,
        should_discover=discover,
    )


async def until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


async def command() -> str:
    line: str = await asyncio.to_thread(sys.stdin.readline)
    return line.strip()


async def stop_after_heartbeat(client: Any, recorder: RecordingHttpClient) -> None:
    if not await asyncio.to_thread(recorder.next_heartbeat, 10.0):
        raise TimeoutError("no heartbeat")
    await client.stop()
    emit("stopped")


async def greeter(eureka_url: str, recorder: RecordingHttpClient) -> None:
    service = ThreadingHTTPServer(("127.0.0.1", 0), Greeter)
    threading.Thread(target=service.serve_forever, daemon=True).start()
    port = service.server_address[1]
    client = new_client(eureka_url, "py-greeter", port, discover=False)
    await client.start()
    emit("started", port=port)
    while await command() != "stop":
        pass
    await stop_after_heartbeat(client, recorder)


async def caller(eureka_url: str, recorder: RecordingHttpClient) -> None:
    client = new_client(eureka_url, "py-caller", CALLER_PORT, discover=True)
    await client.start()
    emit("started", apps=[app.name for app in client.applications.applications])

    def greeter_up() -> bool:
        return bool(client.applications.get_application("PY-GREETER").up_instances)

    await until(greeter_up, "PY-GREETER never appeared")
    emit("discovered", answer=await client.do_service("PY-GREETER", "/hello"))
    while (line := await command()) != "stop":
        if line == "wait-gone":
            await until(lambda: not greeter_up(), "PY-GREETER never left")
            emit("gone")
    await stop_after_heartbeat(client, recorder)


async def main(eureka_url: str, role: str) -> int:
    # Its log handler writes to stdout by default, which carries our JSON lines.
    py_eureka_client.logger.set_handler(logging.StreamHandler(sys.stderr))
    recorder = RecordingHttpClient()
    http_client.set_http_client(recorder)
    try:
        await (greeter if role == "greeter" else caller)(eureka_url, recorder)
    except TimeoutError as exc:
        emit("error", message=str(exc))
        return 1
    return 0


if __name__ == "__main__":
    code = asyncio.run(main(sys.argv[1], sys.argv[2]))
    sys.stdout.flush()
    # Not sys.exit: the heartbeat thread must not get another turn during interpreter shutdown.
    os._exit(code)
