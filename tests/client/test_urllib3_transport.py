"""The urllib3 transport against a real loopback server: gzip, auth, time-outs, keep-alive."""

from __future__ import annotations

import gzip
import logging
import socket
import threading
import time
from collections.abc import Callable

import pytest
import urllib3.exceptions as u3

from eureka_embed.client import (
    Aborted,
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    EurekaEndpoint,
    HttpRequest,
    InvalidResponse,
    ReadTimeout,
    RestEurekaHttpClient,
    Urllib3Transport,
    registration_client,
)
from eureka_embed.client.abort import AbortSignal
from eureka_embed.client.urllib3_transport import map_error
from eureka_embed.codec import WireFormat, encode_applications
from eureka_embed.errors import TransportError
from eureka_embed.model import Applications
from tests.client.support import (
    LoopbackHandler,
    LoopbackServer,
    Reply,
    Seen,
    instance,
    wait_until,
)

StartServer = Callable[[LoopbackHandler], LoopbackServer]

APPS = encode_applications(Applications.of([instance(1), instance(2)]), WireFormat.JSON)


def _client(url: str, *, read_timeout_s: float = 8.0) -> RestEurekaHttpClient:
    transport = Urllib3Transport(connect_timeout_s=2.0, read_timeout_s=read_timeout_s)
    return RestEurekaHttpClient(EurekaEndpoint.parse(url), transport)


def _gzipping(seen: Seen) -> Reply:
    if "gzip" in seen.headers.get("accept-encoding", ""):
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        return Reply(200, headers, gzip.compress(APPS))
    return Reply(200, {"Content-Type": "application/json"}, APPS)


def test_gzip_is_asked_for_and_decoded(loopback: StartServer) -> None:
    server = loopback(_gzipping)

    with _client(server.url) as client:
        apps = client.get_applications().require_entity()

    assert server.seen[0].headers["accept-encoding"] == "gzip"
    assert [i.instance_id for i in apps.instances()] == [
        instance(1).instance_id,
        instance(2).instance_id,
    ]


def test_a_corrupt_gzip_body_is_an_invalid_response(loopback: StartServer) -> None:
    server = loopback(lambda seen: Reply(200, {"Content-Encoding": "gzip"}, b"definitely not gzip"))

    with _client(server.url) as client, pytest.raises(InvalidResponse):
        client.get_applications()


def test_credentials_from_the_service_url_become_basic_auth(loopback: StartServer) -> None:
    server = loopback(lambda seen: Reply(204))
    url = server.url.replace("http://", "http://ops:s3cret@")

    with _client(url) as client:
        client.register(instance(1))

    # "ops:s3cret" in base64
    assert server.seen[0].headers["authorization"] == "Basic b3BzOnMzY3JldA=="
    assert server.seen[0].path == "/eureka/apps/ORDERS"


def test_credentials_never_reach_the_logs_or_errors(
    loopback: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = loopback(lambda seen: Reply(503, body=b"overloaded"))
    url = server.url.replace("http://", "http://ops:s3cret@")
    caplog.set_level(logging.DEBUG, logger="eureka_embed")
    caplog.set_level(logging.DEBUG, logger="urllib3")

    with registration_client(url) as client, pytest.raises(TransportError) as caught:
        client.register(instance(1))

    assert caplog.records, "the failure was logged"
    everything = caplog.text + str(caught.value) + repr(caught.value.__dict__)
    assert "s3cret" not in everything
    assert "b3BzOnMzY3JldA" not in everything


def test_a_slow_server_is_a_read_timeout(loopback: StartServer) -> None:
    def stall(seen: Seen) -> Reply:
        server.release.wait(10)
        return Reply(200)

    server = loopback(stall)

    with _client(server.url, read_timeout_s=0.2) as client, pytest.raises(ReadTimeout):
        client.get_applications()


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more.

    with _client(f"http://127.0.0.1:{port}/eureka/") as client, pytest.raises(ConnectError):
        client.get_applications()


def test_connections_are_kept_alive_between_requests(loopback: StartServer) -> None:
    server = loopback(_gzipping)

    with _client(server.url) as client:
        for _ in range(3):
            client.get_applications()

    assert len({seen.client_port for seen in server.seen}) == 1


REQUEST = HttpRequest("GET", "http://a:8761/eureka/apps/")


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (u3.NewConnectionError(None, "refused"), ConnectError),  # type: ignore[arg-type]
        (u3.ConnectTimeoutError("slow"), ConnectTimeout),
        (u3.ReadTimeoutError(None, "/", "slow"), ReadTimeout),  # type: ignore[arg-type]
        (u3.ProtocolError("reset", ConnectionResetError()), ConnectionLost),
        (u3.DecodeError("bad gzip"), InvalidResponse),
        (u3.SSLError("handshake"), ConnectError),
        (ConnectionResetError("reset"), ConnectionLost),
        (u3.MaxRetryError(None, "/", u3.ConnectTimeoutError("slow")), ConnectTimeout),  # type: ignore[arg-type]
    ],
)
def test_urllib3_errors_map_onto_the_client_error_tree(
    raised: Exception, expected: type[TransportError]
) -> None:
    mapped = map_error(raised, REQUEST)

    assert type(mapped) is expected
    assert "GET http://a:8761/eureka/apps/" in mapped.reason


def test_a_held_request_waits_its_hold_beyond_the_read_timeout(loopback: StartServer) -> None:
    def answer_after_half_a_second(seen: Seen) -> Reply:
        server.release.wait(0.5)
        return Reply(200, {"Content-Type": "application/json", "X-Eureka-Index": "3"}, APPS)

    server = loopback(answer_after_half_a_second)

    with _client(server.url, read_timeout_s=0.2) as client:
        # The server holds the watch 0.5 s: within 0.2 s read time-out + 1 s hold.
        watched = client.get_delta(index=2, wait_s=1)
        assert watched.index == 3
        # The hold is the watch's alone: the next plain read has the 0.2 s time-out again.
        with pytest.raises(ReadTimeout):
            client.get_applications()


def test_an_abort_ends_an_exchange_in_flight_at_once(loopback: StartServer) -> None:
    def hold(seen: Seen) -> Reply:
        server.release.wait(10)
        return Reply(200)

    server = loopback(hold)
    signal = AbortSignal()
    outcome: list[BaseException] = []

    def watch() -> None:
        with _client(server.url) as client, signal.armed():
            try:
                client.get_delta(index=1, wait_s=30)
            except TransportError as exc:
                outcome.append(exc)

    watcher = threading.Thread(target=watch)
    watcher.start()
    wait_until(lambda: server.seen, what="the watch to reach the server")
    started = time.monotonic()
    signal.abort()
    watcher.join(5)

    assert time.monotonic() - started < 1
    assert [type(e) for e in outcome] == [Aborted]
    # Once given, the signal fails the next exchange before it waits at all.
    with _client(server.url) as client, signal.armed(), pytest.raises(Aborted):
        client.get_delta(index=1, wait_s=30)


def test_an_exchange_outside_an_armed_signal_is_not_aborted(loopback: StartServer) -> None:
    server = loopback(_gzipping)
    signal = AbortSignal()
    signal.abort()

    with _client(server.url) as client:
        assert client.get_applications().ok
