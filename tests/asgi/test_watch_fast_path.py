"""The ASGI watch fast path answers exactly as Falcon's route does.

Two apps over one :class:`~eureka_embed.http.api.EurekaApi` (one registry, one payload cache, so
the same ETags) take the same table of watching reads: one holds and answers them from the ASGI
scope (eureka_embed/asgi/watch_fast_path.py), the other with the fast path off, through Falcon.
Every message each sends (status, headers in order, body) must be the same, and so must what
each adds to the request metrics. Watches that would wait are asked with ``wait=0s`` or an
index already passed; one held watch is woken by a change on each path.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from eureka_embed.asgi.app import EurekaAsgiApp, falcon_asgi_app
from eureka_embed.asgi.watch_fast_path import WatchFastPath, WatchingRead
from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.http.api import EurekaApi
from eureka_embed.registry import Registry
from eureka_embed.storage.view_index import ALL
from tests.asgi.asgi_calls import Call, call_app
from tests.auth.support import authorization, basic_auth
from tests.registry.helpers import instance
from tests.wsgi.helpers import instance_id, json_body

ID1 = instance_id(1)
JSON = (b"accept", b"application/json")
XML = (b"accept", b"application/xml")
NOW = b"index=1&wait=0s"  # index 1 is long passed: answered at once


def _get(path: str, query: bytes = NOW, *headers: tuple[bytes, bytes], **kw: Any) -> Call:
    return Call(path, query, headers, method="GET", **kw)


READS: list[tuple[str, Call]] = [
    ("registry, json", _get("/eureka/apps", NOW, JSON)),
    ("registry, xml", _get("/eureka/apps", NOW, XML)),
    ("registry, no accept", _get("/eureka/apps")),
    (
        "registry, compact gzip",
        _get(
            "/eureka/apps",
            NOW,
            JSON,
            (b"x-eureka-accept", b"compact"),
            (b"accept-encoding", b"gzip"),
        ),
    ),
    ("v2 base", _get("/eureka/v2/apps", NOW, JSON)),
    ("delta after index 1", _get("/eureka/apps/delta", b"index=1", JSON)),
    ("delta, xml", _get("/eureka/apps/delta", b"index=2&wait=0s", XML)),
    ("application", _get("/eureka/apps/ORDERS", NOW, JSON)),
    ("application, lower case", _get("/eureka/apps/orders", NOW, XML)),
    ("application, trailing slash", _get("/eureka/apps/ORDERS/", NOW, JSON)),
    ("unknown application: 404 with its index", _get("/eureka/apps/NOBODY", NOW, JSON)),
    ("instance", _get(f"/eureka/apps/ORDERS/{ID1}", NOW, JSON)),
    ("unknown instance", _get("/eureka/apps/ORDERS/nobody", NOW, JSON)),
    ("vip", _get("/eureka/vips/orders-vip", NOW, JSON)),
    ("secure vip", _get("/eureka/svips/nothing", NOW, XML)),
    ("a malformed index: 400", _get("/eureka/apps", b"index=soon", JSON)),
    ("a malformed wait: 400", _get("/eureka/apps", b"index=1&wait=later", JSON)),
    ("the index given twice: the last counts", _get("/eureka/apps", b"index=x&index=1&wait=0s")),
    (
        "mounted under a root path",
        _get("/registry/eureka/apps/ORDERS", NOW, JSON, root_path="/registry"),
    ),
    ("no index: Falcon's", _get("/eureka/apps", b"", JSON, fast=False)),
    ("another parameter named like it: Falcon's", _get("/eureka/apps", b"reindex=1", fast=False)),
    ("not watchable: Falcon's", _get("/eureka/status", NOW, fast=False)),
    ("unknown path: Falcon's", _get("/eureka/nowhere", NOW, fast=False)),
    ("another method: Falcon's", Call("/eureka/apps/ORDERS", NOW, (JSON,), "DELETE", fast=False)),
]


class CountingWatchFastPath(WatchFastPath):
    """Counts the reads it answered itself."""

    answered = 0

    async def respond(self, read: WatchingRead, send: Any, started: float) -> None:
        self.answered += 1
        await super().respond(read, send, started)


def _get_metrics(app: EurekaAsgiApp) -> dict[str, float]:
    """The GET request counters: series name and labels -> count."""
    sent = asyncio.run(call_app(app, _get("/metrics", b"", fast=False)))
    counts = {}
    for line in sent[-1]["body"].decode().splitlines():
        if (
            line.startswith("eureka_http_request")
            and 'method="GET"' in line
            and "/metrics" not in line
            and "_created" not in line  # creation times differ
            and "_sum" not in line  # so do durations
            and "_bucket" not in line
        ):
            series, _, value = line.rpartition(" ")
            counts[series] = float(value)
    return counts


def _added(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}


Answers = dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]


@pytest.fixture(scope="module")
def apps() -> Iterator[tuple[EurekaAsgiApp, EurekaAsgiApp, EurekaApi, Registry]]:
    registry = Registry(config=RegistryConfig(self_preservation=False), clock=ManualClock())
    api = EurekaApi(registry)
    fast = falcon_asgi_app(api, watch_fast_path=True)
    assert fast.watching_reads is not None
    fast.watching_reads.__class__ = CountingWatchFastPath
    slow = falcon_asgi_app(api, watch_fast_path=False)
    assert slow.watching_reads is None
    for n in (1, 2):
        post = Call(
            "/eureka/apps/ORDERS",
            method="POST",
            headers=((b"content-type", b"application/json"),),
            body=json_body(n),
        )
        assert asyncio.run(call_app(slow, post))[0]["status"] == 204
    try:
        yield fast, slow, api, registry
    finally:
        api.close()
        registry.close()


@pytest.fixture(scope="module")
def answers(apps: tuple[EurekaAsgiApp, EurekaAsgiApp, EurekaApi, Registry]) -> Answers:
    fast_app, slow_app, _, _ = apps
    counter = fast_app.watching_reads
    assert isinstance(counter, CountingWatchFastPath)
    results: Answers = {}
    for name, call in READS:
        before = counter.answered
        metrics = _get_metrics(fast_app)  # one EurekaApi: the apps share their counters
        fast = asyncio.run(call_app(fast_app, call))
        between = _get_metrics(fast_app)
        slow = asyncio.run(call_app(slow_app, call))
        fast_metrics = _added(metrics, between)
        slow_metrics = _added(between, _get_metrics(slow_app))
        assert counter.answered - before == int(call.fast), name
        results[name] = (fast, slow)
        results[f"<metrics> {name}"] = ([{"added": fast_metrics}], [{"added": slow_metrics}])
    return results


# GET status reports the process's memory and uptime as they are at the call: two calls a
# moment apart may differ there (the suite's memory grows), whatever path answered them.
_LIVE_FIGURES = re.compile(rb"<(current-memory-usage|server-uptime)>[^<]*</\1>")


def _steady(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**m, "body": _LIVE_FIGURES.sub(rb"<\1/>", m["body"])} if "body" in m else m
        for m in messages
    ]


@pytest.mark.parametrize("name", [name for name, _ in READS])
def test_the_fast_path_answers_as_falcon_does(answers: Answers, name: str) -> None:
    fast, falcon_route = answers[name]
    assert _steady(fast) == _steady(falcon_route)
    assert fast[0]["status"] != 500


@pytest.mark.parametrize("name", [name for name, call in READS if call.fast])
def test_the_fast_path_counts_its_requests_as_the_middleware_does(
    answers: Answers, name: str
) -> None:
    fast, falcon_route = answers[f"<metrics> {name}"]
    assert fast == falcon_route
    assert fast[0]["added"], "a request the metrics did not count"


def test_the_table_covers_the_answers_of_a_watching_read(answers: Answers) -> None:
    statuses = {answers[name][0][0]["status"] for name, call in READS if call.fast}
    assert statuses == {200, 400, 404}
    encodings = {
        dict(answers[name][0][0]["headers"]).get(b"content-encoding")
        for name, call in READS
        if call.fast
    }
    assert b"gzip" in encodings


def test_a_held_watch_wakes_and_answers_as_falcon_does(
    apps: tuple[EurekaAsgiApp, EurekaAsgiApp, EurekaApi, Registry],
) -> None:
    fast_app, slow_app, api, registry = apps
    index = api.watches.index(ALL)
    watch = _get("/eureka/apps/delta", f"index={index}&wait=30s".encode(), JSON)

    async def both_woken() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        fast = asyncio.ensure_future(call_app(fast_app, watch))
        slow = asyncio.ensure_future(call_app(slow_app, watch))
        while api.watches.waiting < 2:
            await asyncio.sleep(0.01)
        assert not fast.done() and not slow.done()
        registry.register(instance(3))
        return await asyncio.wait_for(asyncio.gather(fast, slow), 10)

    fast, slow = asyncio.run(both_woken())

    assert fast == slow
    assert fast[0]["status"] == 200
    assert b'"instanceId":"host3' in fast[1]["body"]  # only the change after the index
    assert b"host1" not in fast[1]["body"]


def test_a_watch_on_a_stopping_server_is_a_503_on_both_paths() -> None:
    registry = Registry(config=RegistryConfig(self_preservation=False), clock=ManualClock())
    api = EurekaApi(registry)
    fast_app = falcon_asgi_app(api, watch_fast_path=True)
    slow_app = falcon_asgi_app(api, watch_fast_path=False)
    try:
        api.watches.close()
        call = _get("/eureka/apps", b"index=1", JSON)
        fast = asyncio.run(call_app(fast_app, call))
        assert fast == asyncio.run(call_app(slow_app, call))
        assert fast[0]["status"] == 503
    finally:
        api.close()
        registry.close()


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "falcon"])
def test_credentials_of_a_watch_are_verified_off_the_event_loop(
    fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The key derivation takes tens of milliseconds: on the loop it would stall every
    # connection. A watch checks credentials before it waits, so that check runs in the pool.
    auth = basic_auth()
    threads: list[str] = []
    verify = auth._verify

    def recording(authorization: str) -> Any:
        threads.append(threading.current_thread().name)
        return verify(authorization)

    monkeypatch.setattr(auth, "_verify", recording)
    registry = Registry(config=RegistryConfig(self_preservation=False), clock=ManualClock())
    api = EurekaApi(registry, auth=auth)
    app = falcon_asgi_app(api, watch_fast_path=fast)
    try:
        header = authorization("reader")["Authorization"].encode()
        call = _get("/eureka/apps", NOW, JSON, (b"authorization", header))
        sent = asyncio.run(call_app(app, call))
    finally:
        api.close()
        registry.close()

    assert sent[0]["status"] == 200
    assert threads and all(name.startswith("eureka-embed-blocking") for name in threads)
