"""Helpers for the client tests: instances, canned answers, payload samples, a loopback server."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import urllib3

from eureka_embed.client.contract import ClientLayer, EurekaHttpClient, Operation
from eureka_embed.client.errors import ConnectError
from eureka_embed.client.response import EurekaResponse, RequestKind
from eureka_embed.client.transport import HttpRequest, HttpResponse
from eureka_embed.codec import WireFormat, encode_applications, encode_instance
from eureka_embed.model import Applications, InstanceInfo, InstanceStatus

PAYLOADS = Path(__file__).with_name("payloads")

T = TypeVar("T")


def payload(name: str) -> bytes:
    """A hand-written sample in Netflix Eureka's wire shapes."""
    return (PAYLOADS / name).read_bytes()


def instance(
    n: int = 1,
    app: str = "ORDERS",
    status: InstanceStatus = InstanceStatus.UP,
    **changes: object,
) -> InstanceInfo:
    built = InstanceInfo(
        instance_id=f"host{n}:{app.lower()}:8080",
        app=app,
        host_name=f"host{n}",
        ip_addr=f"10.0.0.{n}",
        status=status,
        vip_address=app.lower(),
        last_dirty_timestamp=1_700_000_000_000 + n,
    )
    return built.evolve(**changes) if changes else built


def answer(
    status: int, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> HttpResponse:
    return HttpResponse(status, dict(headers or {}), body)


def json_answer(body: bytes, status: int = 200) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, body)


def apps_answer(instances: Iterable[InstanceInfo], hashcode: str | None = None) -> HttpResponse:
    apps = Applications.of(instances, hashcode=hashcode)
    return json_answer(encode_applications(apps, WireFormat.JSON))


def instance_answer(found: InstanceInfo, status: int = 200) -> HttpResponse:
    return json_answer(encode_instance(found, WireFormat.JSON), status)


def host_of(request: HttpRequest) -> str:
    """``a`` for ``http://a:8761/eureka/apps/``: which server a mock request went to."""
    return request.url.split("://", 1)[1].split(":", 1)[0].split("/", 1)[0]


def wait_until(probe: Callable[[], T | None], *, timeout: float = 10.0, what: str = "") -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or probe}")
        time.sleep(0.02)


# ---------------------------------------------------------------------- loopback HTTP server


@dataclass
class Seen:
    """One request as the loopback server received it."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    client_port: int


@dataclass
class Reply:
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


LoopbackHandler = Callable[[Seen], Reply]


class LoopbackServer:
    """A tiny threaded HTTP/1.1 server on 127.0.0.1 and a free port, answering ``handler``.

    Keeps every request in :attr:`seen`. ``release`` ends any handler blocked on it, so a test
    that plays a slow server never leaves a thread behind.
    """

    def __init__(self, handler: LoopbackHandler) -> None:
        self.handler = handler
        self.seen: list[Seen] = []
        self.release = threading.Event()
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                    self.client_address[1],
                )
                outer.seen.append(request)
                reply = outer.handler(request)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                # The client may have given up on the answer (a time-out, an abort).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/eureka/"

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


# ---------------------------------------------------------------------- a controllable layer


class Tap(ClientLayer):
    """Wraps a client for tests: counts operations, plays an outage, rewrites answers.

    ``down`` makes every operation fail with ConnectError (as a stopped server would);
    ``rewrite`` may replace an answer, e.g. to corrupt a delta's hashcode.
    """

    def __init__(self, inner: EurekaHttpClient) -> None:
        self.inner = inner
        self.down = False
        self.calls: list[RequestKind] = []
        self.rewrite: Callable[[RequestKind, EurekaResponse[Any]], EurekaResponse[Any]] | None = (
            None
        )

    def _execute(self, kind: RequestKind, operation: Operation[T]) -> EurekaResponse[T]:
        self.calls.append(kind)
        if self.down:
            raise ConnectError(f"{kind}: connection refused")
        response = operation(self.inner)
        if self.rewrite is not None:
            response = self.rewrite(kind, response)
        return response

    def count(self, kind: RequestKind) -> int:
        return self.calls.count(kind)

    def shutdown(self) -> None:
        self.inner.shutdown()


def wrong_delta_hashcode_once(tap: Tap) -> None:
    """Make the next delta through ``tap`` claim a hashcode no merge can reach."""

    def corrupt(kind: RequestKind, response: EurekaResponse[Any]) -> EurekaResponse[Any]:
        watched_or_polled = (RequestKind.GET_DELTA, RequestKind.GET_DELTA_WATCH)
        if kind not in watched_or_polled or response.entity is None:
            return response
        tap.rewrite = None
        wrong = replace(response.entity, apps_hashcode="UP_999_")
        return replace(response, entity=wrong)

    tap.rewrite = corrupt


# ---------------------------------------------------------------------- a plain Eureka server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PlainEureka:
    """WSGI middleware that makes an eureka-embed app answer as Netflix's server does: no
    ``X-Eureka-Index`` in any answer, and the watch parameters dropped from every query
    (a plain server ignores what it does not know). Keeps every query string it saw."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.queries: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        query = environ.get("QUERY_STRING", "")
        self.queries.append(query)
        kept = [p for p in query.split("&") if p.split("=", 1)[0] not in ("index", "wait")]
        environ = {**environ, "QUERY_STRING": "&".join(kept)}

        def start_without_index(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            plain = [(k, v) for k, v in headers if k.lower() != "x-eureka-index"]
            return start_response(status, plain, *rest)

        return self.app(environ, start_without_index)


class RoundRobinProxy:
    """A WSGI app that forwards each request to the next of :attr:`upstreams` in turn
    (service URLs of real servers), as a load balancer in front of several nodes may."""

    _HOP_BY_HOP = frozenset(
        ("connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length")
    )

    def __init__(self) -> None:
        self.upstreams: list[str] = []
        self._turn = itertools.count()
        # No read time-out of its own: a held watch ends when its server answers it.
        self._pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        upstream = self.upstreams[next(self._turn) % len(self.upstreams)]
        url = upstream.split("/eureka/", 1)[0] + environ["PATH_INFO"]
        if environ.get("QUERY_STRING"):
            url += "?" + environ["QUERY_STRING"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_") and key not in ("HTTP_HOST", "HTTP_ACCEPT_ENCODING")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        answer = self._pool.request(
            environ["REQUEST_METHOD"],
            url,
            body=environ["wsgi.input"].read(length) if length else None,
            headers=headers,
            redirect=False,
        )
        kept = [(k, v) for k, v in answer.headers.items() if k.lower() not in self._HOP_BY_HOP]
        start_response(f"{answer.status} {answer.reason or ''}".strip(), kept)
        return [answer.data]

    def close(self) -> None:
        self._pool.clear()
