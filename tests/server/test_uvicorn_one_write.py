"""``serve --server uvicorn`` writes each answer in one socket write, and stays uvicorn.

The protocol runs over a recording transport: every ``write`` (or ``writelines``) is one
socket write, so the tests count what a client's kernel would receive, request by request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

pytest.importorskip("httptools")

import uvicorn
from uvicorn.server import ServerState

from eureka_embed.asgi_server import UvicornServer
from eureka_embed.uvicorn_one_write import OneWriteHttpToolsProtocol

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class RecordingTransport(asyncio.Transport):
    """Notes each socket write; reading can be paused and resumed as uvicorn's flow control
    asks."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        #: Whether the server closed the connection before the client left.
        self.closed_by_server = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        self.writes.append(b"".join(list_of_data))  # one writev

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8761), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _answered(
    app: App, data: bytes, answers: int = 1, transport: RecordingTransport | None = None
) -> RecordingTransport:
    """The writes of the protocol serving ``app`` once ``data`` arrived, after ``answers``
    requests were answered."""
    config = uvicorn.Config(app, http=OneWriteHttpToolsProtocol, lifespan="off", log_config=None)
    config.load()
    state = ServerState()
    protocol = OneWriteHttpToolsProtocol(config=config, server_state=state, app_state={})
    transport = transport or RecordingTransport()
    protocol.connection_made(transport)
    protocol.data_received(data)
    for _ in range(200):
        await asyncio.sleep(0)
        if state.total_requests >= answers and not state.tasks:
            break
    transport.closed_by_server = transport.closed
    protocol.connection_lost(None)
    return transport


def _fixed(body: bytes) -> App:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


GET = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"


def test_an_answer_goes_out_in_one_write() -> None:
    transport = asyncio.run(_answered(_fixed(b"hello"), GET))
    assert len(transport.writes) == 1
    head, _, body = transport.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: 5" in head
    assert body == b"hello"
    assert not transport.closed_by_server  # kept alive


def test_pipelined_requests_are_answered_in_order_one_write_each() -> None:
    transport = asyncio.run(_answered(_fixed(b"x"), GET * 3, answers=3))
    assert len(transport.writes) == 3
    assert all(
        w.startswith(b"HTTP/1.1 200 OK\r\n") and w.endswith(b"\r\n\r\nx") for w in transport.writes
    )


def test_a_bodiless_answer_and_a_connection_close_are_written_before_closing() -> None:
    async def no_content(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    request = b"DELETE /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    transport = asyncio.run(_answered(no_content, request))
    assert len(transport.writes) == 1
    assert transport.writes[0].startswith(b"HTTP/1.1 204 No Content\r\n")
    assert transport.closed_by_server


def test_headers_of_a_streamed_answer_are_not_held_for_its_body() -> None:
    transport = RecordingTransport()
    seen_before_body: list[bytes] = []

    async def stream(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(3):  # other work meanwhile: the loop turns
            await asyncio.sleep(0)
        seen_before_body.extend(transport.writes)
        await send({"type": "http.response.body", "body": b"late"})

    asyncio.run(_answered(stream, GET, transport=transport))
    assert len(seen_before_body) == 1
    assert seen_before_body[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"late" in b"".join(transport.writes[1:])  # chunked, after the headers


def test_100_continue_is_sent_before_the_body_arrives() -> None:
    async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        body = message.get("body", b"")
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def run() -> list[bytes]:
        config = uvicorn.Config(
            echo, http=OneWriteHttpToolsProtocol, lifespan="off", log_config=None
        )
        config.load()
        state = ServerState()
        protocol = OneWriteHttpToolsProtocol(config=config, server_state=state, app_state={})
        transport = RecordingTransport()
        protocol.connection_made(transport)
        protocol.data_received(
            b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
        )
        for _ in range(5):
            await asyncio.sleep(0)
        before_body = list(transport.writes)
        protocol.data_received(b"ok")
        for _ in range(20):
            await asyncio.sleep(0)
        protocol.connection_lost(None)
        return [*before_body, b"--", *transport.writes[len(before_body) :]]

    writes = asyncio.run(run())
    assert writes[0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert writes[1] == b"--"
    assert writes[2].startswith(b"HTTP/1.1 200 OK\r\n") and writes[2].endswith(b"\r\n\r\nok")


def test_the_standalone_server_serves_with_it() -> None:
    server = UvicornServer(maintenance=False).listen()
    try:
        assert server._server is not None
        assert server._server.config.http is OneWriteHttpToolsProtocol
    finally:
        server.stop()
