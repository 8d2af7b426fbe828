"""A query string that is not UTF-8, as a server that passes the raw bytes on hands it over
(uvicorn's httptools refuses it itself; hypercorn, daphne and test clients do not): a 400 with
the reason, on every route and both fast paths, never Falcon's decode error as a 500."""

from __future__ import annotations

import asyncio

import pytest

from eureka_embed.asgi import create_app
from eureka_embed.registry import Registry
from tests.asgi.asgi_calls import Call, call_app
from tests.wsgi.helpers import instance_id

BAD = b"status=UP&x=\xff\xfe"


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("PUT", f"/eureka/apps/ORDERS/{instance_id(1)}", BAD),  # the heartbeat fast path
        ("GET", "/eureka/apps", b"index=3&wait=\xc3"),  # the watch fast path
        ("GET", "/eureka/apps/delta", b"\xe9"),
        ("GET", "/eureka/status", b"q=\x80"),
        ("GET", "/metrics", b"name=\xff"),
        ("GET", "/", b"\xff"),
    ],
)
def test_a_query_that_is_not_utf8_is_a_400_with_the_reason(
    method: str, path: str, query: bytes
) -> None:
    registry = Registry()
    app = create_app(registry)
    sent = asyncio.run(call_app(app, Call(path, method=method, query=query)))
    start = sent[0]
    assert start["status"] == 400
    headers = dict(start["headers"])
    assert headers[b"content-type"].startswith(b"text/plain")
    body = b"".join(m.get("body", b"") for m in sent[1:])
    assert b"query string is not UTF-8" in body
    registry.close()
