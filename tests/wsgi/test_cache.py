"""The encoded-payload cache: never stale, built once per change, ETags and 304s."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import falcon.asgi
import falcon.testing
import pytest

from eureka_embed.asgi import EurekaAsgiApp
from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.http.payload_cache import PayloadCache
from eureka_embed.model import Applications
from eureka_embed.registry import Registry
from tests.wsgi.adapters import AppFactory
from tests.wsgi.helpers import JSON, instance_id, instance_ids, json_of, register

ID1, ID2 = instance_id(1), instance_id(2)

Write = Callable[[falcon.testing.TestClient, Registry, ManualClock], None]


def _register_another(client: falcon.testing.TestClient, r: Registry, c: ManualClock) -> None:
    register(client, 3)


def _status(client: falcon.testing.TestClient, r: Registry, c: ManualClock) -> None:
    client.simulate_put(f"/eureka/apps/ORDERS/{ID1}/status", params={"value": "OUT_OF_SERVICE"})


def _delete_override(client: falcon.testing.TestClient, r: Registry, c: ManualClock) -> None:
    _status(client, r, c)
    client.simulate_delete(f"/eureka/apps/ORDERS/{ID1}/status", params={"value": "DOWN"})


def _cancel(client: falcon.testing.TestClient, r: Registry, c: ManualClock) -> None:
    client.simulate_delete(f"/eureka/apps/ORDERS/{ID1}")


def _metadata(client: falcon.testing.TestClient, r: Registry, c: ManualClock) -> None:
    client.simulate_put(f"/eureka/apps/ORDERS/{ID1}/metadata", params={"zone": "b"})


def _evict(client: falcon.testing.TestClient, registry: Registry, clock: ManualClock) -> None:
    # Instance 2 keeps renewing; instance 1 stops and is evicted once its lease runs out.
    for _ in range(4):
        clock.advance(seconds=30)
        client.simulate_put(f"/eureka/apps/ORDERS/{ID2}")
    evicted = registry.evict()
    assert [i.instance_id for i in evicted] == [ID1]


WRITES: dict[str, Write] = {
    "register": _register_another,
    "status": _status,
    "delete-override": _delete_override,
    "cancel": _cancel,
    "metadata": _metadata,
    "eviction": _evict,
}

READS = ["apps", "apps/delta", "apps/ORDERS", "vips/orders"]
VARIANTS = [
    {},
    {"Accept-Encoding": "gzip"},
    {"X-Eureka-Accept": "compact"},
    {"Accept-Encoding": "gzip", "X-Eureka-Accept": "compact"},
]


def _fingerprint(result: falcon.testing.Result) -> tuple[list[tuple[str, ...]], list[str]]:
    """What a client would see: each instance's status and action, and its metadata zone."""
    payload = json_of(result)
    if "applications" in payload:
        applications = payload["applications"]["application"]
    else:
        applications = [payload["application"]]
    instances = [i for a in applications for i in a["instance"]]
    seen: list[tuple[str, ...]] = sorted(
        (i["instanceId"], i["status"], i["actionType"]) for i in instances
    )
    zones: list[str] = sorted(i.get("metadata", {}).get("zone", "-") for i in instances)
    return seen, zones


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize("path", READS)
def test_cached_answers_are_never_stale_after_a_write(
    create_app: AppFactory, registry: Registry, clock: ManualClock, write: str, path: str
) -> None:
    client = falcon.testing.TestClient(create_app(registry))
    register(client, 1)
    register(client, 2)
    # Warm every representation of the answer.
    before = [
        client.simulate_get(f"/eureka/{path}", headers={**JSON, **variant}) for variant in VARIANTS
    ]

    WRITES[write](client, registry, clock)

    fresh_client = falcon.testing.TestClient(create_app(registry))  # nothing cached
    for variant, old in zip(VARIANTS, before, strict=True):
        headers = {**JSON, **variant}
        cached = client.simulate_get(f"/eureka/{path}", headers=headers)
        uncached = fresh_client.simulate_get(f"/eureka/{path}", headers=headers)
        assert cached.content == uncached.content, variant
        if not (write == "metadata" and "X-Eureka-Accept" in variant):  # compact has no metadata
            assert _fingerprint(cached) != _fingerprint(old), variant


@pytest.mark.parametrize("write", sorted(WRITES))
def test_the_delta_shows_each_kind_of_write_at_once(
    client: falcon.testing.TestClient, registry: Registry, clock: ManualClock, write: str
) -> None:
    register(client, 1)
    register(client, 2)
    before = client.simulate_get("/eureka/apps/delta", headers=JSON)

    WRITES[write](client, registry, clock)
    after = client.simulate_get("/eureka/apps/delta", headers=JSON)

    assert after.content != before.content
    assert after.headers["ETag"] != before.headers["ETag"]


def test_heartbeats_do_not_invalidate_the_cache(
    client: falcon.testing.TestClient, registry: Registry, clock: ManualClock
) -> None:
    register(client)
    first = client.simulate_get("/eureka/apps", headers=JSON)
    builds = _builds(client)

    clock.advance(seconds=30)
    client.simulate_put(f"/eureka/apps/ORDERS/{ID1}")
    second = client.simulate_get("/eureka/apps", headers=JSON)

    assert second.content == first.content
    assert _builds(client) == builds


def _builds(client: falcon.testing.TestClient) -> float:
    for line in client.simulate_get("/metrics").text.splitlines():
        if line.startswith("eureka_payload_cache_builds_total "):
            return float(line.split()[1])
    raise AssertionError("no cache builds metric")


def test_a_delta_entry_leaves_when_its_retention_window_ends(
    client: falcon.testing.TestClient, registry: Registry, clock: ManualClock
) -> None:
    register(client)
    retention_s = registry.config.delta_retention_ms / 1000
    clock.advance(seconds=retention_s)
    at_edge = client.simulate_get("/eureka/apps/delta", headers=JSON)

    clock.advance(seconds=1.001)  # past the window, and into the next cache time bucket
    after = client.simulate_get("/eureka/apps/delta", headers=JSON)

    assert instance_ids(json_of(at_edge)) == [ID1]
    assert instance_ids(json_of(after)) == []
    # The full registry is unaffected by time.
    assert instance_ids(json_of(client.simulate_get("/eureka/apps", headers=JSON))) == [ID1]


# -- ETag and 304 --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", READS)
def test_if_none_match_with_the_current_etag_is_304_without_a_body(
    client: falcon.testing.TestClient, path: str
) -> None:
    register(client)
    first = client.simulate_get(f"/eureka/{path}", headers=JSON)
    etag = first.headers["ETag"]

    again = client.simulate_get(f"/eureka/{path}", headers={**JSON, "If-None-Match": etag})

    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag


@pytest.mark.parametrize("path", ["apps", "apps/delta"])
def test_a_change_gives_a_new_etag_and_a_full_answer(
    client: falcon.testing.TestClient, path: str
) -> None:
    register(client, 1)
    etag = client.simulate_get(f"/eureka/{path}", headers=JSON).headers["ETag"]

    register(client, 2)
    result = client.simulate_get(f"/eureka/{path}", headers={**JSON, "If-None-Match": etag})

    assert result.status_code == 200
    assert result.headers["ETag"] != etag
    assert ID2 in result.text


def test_etags_differ_per_representation(client: falcon.testing.TestClient) -> None:
    register(client)

    tags = {
        client.simulate_get("/eureka/apps", headers={"Accept": accept, **variant}).headers["ETag"]
        for accept in ("application/json", "application/xml")
        for variant in VARIANTS
    }

    assert len(tags) == 2 * len(VARIANTS)


def test_a_gzip_etag_does_not_match_the_plain_answer(client: falcon.testing.TestClient) -> None:
    register(client)
    zipped = client.simulate_get("/eureka/apps", headers={**JSON, "Accept-Encoding": "gzip"})

    plain = client.simulate_get(
        "/eureka/apps", headers={**JSON, "If-None-Match": zipped.headers["ETag"]}
    )

    assert plain.status_code == 200


@pytest.mark.parametrize("form", ["weak", "list", "star"])
def test_if_none_match_forms(client: falcon.testing.TestClient, form: str) -> None:
    register(client)
    etag = client.simulate_get("/eureka/apps", headers=JSON).headers["ETag"]
    header = {"weak": f"W/{etag}", "list": f'"other", {etag}', "star": "*"}[form]

    result = client.simulate_get("/eureka/apps", headers={**JSON, "If-None-Match": header})

    assert result.status_code == 304


def test_etags_do_not_carry_over_to_another_registry_with_the_same_sequence(
    create_app: AppFactory,
) -> None:
    # Two processes (or a restart) can share a sequence number but not the content.
    one = falcon.testing.TestClient(create_app(Registry()))
    other = falcon.testing.TestClient(create_app(Registry()))
    register(one, 1)
    register(other, 2)
    etag = one.simulate_get("/eureka/apps", headers=JSON).headers["ETag"]

    result = other.simulate_get("/eureka/apps", headers={**JSON, "If-None-Match": etag})

    assert result.status_code == 200


# -- built once under concurrency -------------------------------------------------------------


class GatedRegistry(Registry):
    """Counts full-registry reads; each read waits until every reader thread has started."""

    def __init__(self, readers: int) -> None:
        super().__init__(config=RegistryConfig(self_preservation=False))
        self.reads = 0
        self.arrived = threading.Semaphore(0)
        self.readers = readers

    def get_applications(self) -> Applications:
        self.reads += 1
        for _ in range(self.readers - 1):
            # The builder holds the slot; the others must all be on their way to wait for it.
            self.arrived.acquire(timeout=5)
        return super().get_applications()


async def _asgi_get(app: EurekaAsgiApp, path: str) -> falcon.testing.Result:
    async with falcon.testing.ASGIConductor(app) as conductor:
        result: falcon.testing.Result = await conductor.simulate_get(path, headers=JSON)
    return result


def test_concurrent_requests_after_a_change_build_the_payload_once(create_app: AppFactory) -> None:
    readers = 16
    registry = GatedRegistry(readers)
    app = create_app(registry)
    client = falcon.testing.TestClient(app)
    register(client)

    def read(_: int) -> bytes:
        registry.arrived.release()
        if isinstance(app, EurekaAsgiApp):
            # TestClient's event loop is one per process: each thread runs its own instead.
            return asyncio.run(_asgi_get(app, "/eureka/apps")).content
        return client.simulate_get("/eureka/apps", headers=JSON).content

    with ThreadPoolExecutor(readers) as pool:
        bodies = list(pool.map(read, range(readers)))

    assert registry.reads == 1
    assert len(set(bodies)) == 1
    assert ID1 in bodies[0].decode()


def test_payload_cache_builds_once_per_version_under_threads() -> None:
    cache: PayloadCache[str] = PayloadCache()
    threads = 12
    arrived = threading.Semaphore(0)
    built: list[int] = []

    def build() -> str:
        built.append(1)
        for _ in range(threads - 1):
            arrived.acquire(timeout=5)
        return "payload"

    def read(_: int) -> str:
        arrived.release()
        return cache.get("full", (7,), build)

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(read, range(threads)))

    assert results == ["payload"] * threads
    assert len(built) == 1
    assert cache.builds == 1


def test_payload_cache_rebuilds_for_a_newer_version_only() -> None:
    cache: PayloadCache[str] = PayloadCache()
    versions = iter(["v1", "v2", "v3"])

    def build() -> str:
        return next(versions)

    assert cache.get("k", (1,), build) == "v1"
    assert cache.get("k", (1,), build) == "v1"
    assert cache.get("k", (2,), build) == "v2"
    # A reader that saw an older sequence gets the newer value: it is at least as fresh.
    assert cache.get("k", (1,), build) == "v2"
    assert cache.get("k", (2, 5), build) == "v3"
    assert cache.builds == 3


def _constant(value: str) -> Callable[[], str]:
    return lambda: value


def test_payload_cache_is_bounded() -> None:
    cache: PayloadCache[str] = PayloadCache(max_entries=3)

    for name in ("a", "b", "c", "d"):
        cache.get(name, (1,), _constant(name))

    assert len(cache) == 3
    # "a" was dropped: asking again builds it again.
    assert cache.get("a", (1,), lambda: "rebuilt") == "rebuilt"
    assert cache.get("d", (1,), lambda: "rebuilt") == "d"


def test_junk_application_names_do_not_grow_the_cache_without_bound(
    create_app: AppFactory, registry: Registry
) -> None:
    client = falcon.testing.TestClient(create_app(registry, cache_max_entries=8))

    for n in range(50):
        assert client.simulate_get(f"/eureka/apps/JUNK{n}").status_code == 404

    register(client)
    assert client.simulate_get("/eureka/apps/ORDERS", headers=JSON).status_code == 200
