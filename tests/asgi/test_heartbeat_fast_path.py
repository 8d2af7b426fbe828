"""The ASGI heartbeat fast path answers exactly as Falcon's route does.

Two apps over two identical registries (same instances, same manual clock) take the same table
of requests: one answers heartbeats from the ASGI scope (eureka_embed/asgi/heartbeat.py), the
other with the fast path off, through Falcon. Every message each sends (status, headers in
order, body) must be the same, and so must the request metrics and the registry afterwards.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from eureka_embed.asgi.app import EurekaAsgiApp, falcon_asgi_app
from eureka_embed.asgi.heartbeat import Heartbeat, HeartbeatFastPath
from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.http.api import EurekaApi
from eureka_embed.registry import Registry
from tests.asgi.asgi_calls import Call, call_app
from tests.wsgi.helpers import instance_id, json_body

ID1, ID2 = instance_id(1), instance_id(2)
REPLICATION = (b"x-netflix-discovery-replication", b"true")
JSON = (b"accept", b"application/json")
XML = (b"accept", b"application/xml")


HEARTBEATS: list[tuple[str, Call]] = [
    ("plain", Call(f"/eureka/apps/ORDERS/{ID1}")),
    ("json", Call(f"/eureka/apps/ORDERS/{ID1}", headers=(JSON,))),
    ("xml", Call(f"/eureka/apps/ORDERS/{ID1}", headers=(XML,))),
    ("v2 base", Call(f"/eureka/v2/apps/ORDERS/{ID1}", headers=(JSON,))),
    ("lower-case app", Call(f"/eureka/apps/orders/{ID1}")),
    (
        "percent-encoded id",
        Call(f"/eureka/apps/ORDERS/{ID1}", raw_path=b"/eureka/apps/ORDERS/host1%3Aorders%3A8080"),
    ),
    ("unknown instance", Call("/eureka/apps/ORDERS/nobody", headers=(JSON,))),
    ("unknown app", Call(f"/eureka/apps/NOBODY/{ID1}")),
    ("client status ignored", Call(f"/eureka/apps/ORDERS/{ID1}", b"status=DOWN")),
    ("older timestamp, client", Call(f"/eureka/apps/ORDERS/{ID1}", b"lastDirtyTimestamp=500")),
    ("newer timestamp", Call(f"/eureka/apps/ORDERS/{ID1}", b"lastDirtyTimestamp=2000")),
    ("blank timestamp", Call(f"/eureka/apps/ORDERS/{ID1}", b"lastDirtyTimestamp=")),
    ("bad timestamp", Call(f"/eureka/apps/ORDERS/{ID1}", b"lastDirtyTimestamp=soon")),
    (
        "huge timestamp",
        Call(f"/eureka/apps/ORDERS/{ID1}", b"lastDirtyTimestamp=99999999999999999999"),
    ),
    (
        "repeated timestamp: the last counts",
        Call(f"/eureka/apps/ORDERS/{ID1}", b"lastDirtyTimestamp=soon&lastDirtyTimestamp=1000"),
    ),
    ("bad override", Call(f"/eureka/apps/ORDERS/{ID1}", b"overriddenstatus=SIDEWAYS")),
    (
        "conflict, xml",
        Call(f"/eureka/apps/ORDERS/{ID1}", b"lastDirtyTimestamp=500", (REPLICATION,)),
    ),
    (
        "conflict, json",
        Call(
            f"/eureka/apps/ORDERS/{ID1}", b"lastDirtyTimestamp=500&status=UP", (REPLICATION, JSON)
        ),
    ),
    (
        "conflict, json, compact, gzip",
        Call(
            f"/eureka/apps/ORDERS/{ID1}",
            b"lastDirtyTimestamp=500",
            (
                REPLICATION,
                JSON,
                (b"x-eureka-accept", b"compact"),
                (b"accept-encoding", b"gzip, deflate"),
            ),
        ),
    ),
    (
        "replication header spelled loosely",
        Call(
            f"/eureka/apps/ORDERS/{ID1}",
            b"lastDirtyTimestamp=500",
            ((b"x-netflix-discovery-replication", b" TRUE "),),
        ),
    ),
    (
        "repeated accept headers are joined",
        Call(f"/eureka/apps/ORDERS/{ID1}", headers=(JSON, (b"accept", b"text/html"))),
    ),
    (
        "a peer's override, percent-encoded (runs in the pool)",
        Call(
            f"/eureka/apps/ORDERS/{ID2}",
            b"overriddenstatus=OUT%5FOF%5FSERVICE&lastDirtyTimestamp=1000",
            (REPLICATION, JSON),
        ),
    ),
    ("after the override", Call(f"/eureka/apps/ORDERS/{ID2}", headers=(JSON,))),
    (
        "mounted under a root path",
        Call(f"/registry/eureka/apps/ORDERS/{ID1}", headers=(JSON,), root_path="/registry"),
    ),
    (
        "mounted, unknown instance",
        Call("/registry/eureka/v2/apps/ORDERS/nobody", root_path="/registry"),
    ),
    ("trailing slash: Falcon's", Call(f"/eureka/apps/ORDERS/{ID1}/", fast=False)),
    ("empty app segment: Falcon's", Call(f"/eureka/apps//{ID1}", fast=False)),
    ("a slash in the id: Falcon's", Call("/eureka/apps/ORDERS/a/b", fast=False)),
    ("status route: Falcon's", Call(f"/eureka/apps/ORDERS/{ID1}/status", b"value=UP", fast=False)),
    ("another method: Falcon's", Call(f"/eureka/apps/ORDERS/{ID1}", method="GET", fast=False)),
    ("delta literal", Call("/eureka/apps/delta/x")),
    (
        "outside the app's root path: Falcon's",
        Call("/elsewhere/x", root_path="/registry", fast=False),
    ),
    ("cancel", Call(f"/eureka/apps/ORDERS/{ID1}", method="DELETE", fast=False)),
    ("after the cancel", Call(f"/eureka/apps/ORDERS/{ID1}", headers=(JSON,))),
]


class CountingFastPath(HeartbeatFastPath):
    """Counts the heartbeats it answered itself."""

    answered = 0

    async def respond(self, heartbeat: Heartbeat, send: Any, started: float) -> None:
        self.answered += 1
        await super().respond(heartbeat, send, started)


def _app(*, fast: bool) -> tuple[EurekaAsgiApp, Registry]:
    registry = Registry(config=RegistryConfig(self_preservation=False), clock=ManualClock())
    app = falcon_asgi_app(EurekaApi(registry), heartbeat_fast_path=fast)
    if fast:
        assert app.heartbeats is not None
        app.heartbeats.__class__ = CountingFastPath
    return app, registry


def _register(app: EurekaAsgiApp, n: int) -> None:
    call = Call(
        "/eureka/apps/ORDERS",
        method="POST",
        headers=((b"content-type", b"application/json"),),
        body=json_body(n),
        fast=False,
    )
    status = asyncio.run(call_app(app, call))[0]["status"]
    assert status == 204


def _heartbeat_metrics(app: EurekaAsgiApp) -> list[str]:
    sent = asyncio.run(call_app(app, Call("/metrics", method="GET", fast=False)))
    text = sent[-1]["body"].decode()
    return [
        line
        for line in text.splitlines()
        if line.startswith("eureka_http_request")
        and 'method="PUT"' in line
        and "_created" not in line  # creation times differ
        and "_sum" not in line  # so do durations
        and "_bucket" not in line
    ]


@pytest.fixture(scope="module")
def answers() -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Every call of the table answered by the fast app and the Falcon-only one, in order."""
    fast_app, fast_registry = _app(fast=True)
    slow_app, slow_registry = _app(fast=False)
    for app in (fast_app, slow_app):
        _register(app, 1)
        _register(app, 2)
    results = {}
    for name, call in HEARTBEATS:
        assert isinstance(fast_app.heartbeats, CountingFastPath)
        before = fast_app.heartbeats.answered
        results[name] = (
            asyncio.run(call_app(fast_app, call)),
            asyncio.run(call_app(slow_app, call)),
        )
        assert fast_app.heartbeats.answered - before == int(call.fast), name
    results["<metrics>"] = (
        [{"lines": _heartbeat_metrics(fast_app)}],
        [{"lines": _heartbeat_metrics(slow_app)}],
    )
    assert fast_registry.get_applications() == slow_registry.get_applications()
    return results


@pytest.mark.parametrize("name", [name for name, _ in HEARTBEATS])
def test_the_fast_path_answers_as_falcon_does(
    answers: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]], name: str
) -> None:
    fast, falcon_route = answers[name]
    assert fast == falcon_route


def test_the_table_covers_every_heartbeat_answer(
    answers: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]],
) -> None:
    statuses = {answers[name][0][0]["status"] for name, call in HEARTBEATS if call.fast}
    assert statuses == {200, 400, 404, 409}
    types = {
        dict(answers[name][0][0]["headers"]).get(b"content-type")
        for name, call in HEARTBEATS
        if call.fast
    }
    assert {b"application/json", b"application/xml", b"text/plain; charset=utf-8"} <= types


def test_heartbeats_are_counted_alike(
    answers: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]],
) -> None:
    fast, falcon_route = answers["<metrics>"]
    assert fast == falcon_route
    assert any(
        'route="/eureka/apps/{app}/{instance_id}",status="409"' in line for line in fast[0]["lines"]
    )
