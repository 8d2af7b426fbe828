"""The ASGI adapter keeps its event loop free: what blocks runs in its thread pool.

Heartbeats and cached reads are answered on the loop (no thread hop); registrations and other
writes, a cache miss, and a heartbeat that must write (a peer's override) run in the pool, so
a write stuck in the store never holds a heartbeat up.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import falcon.testing

from eureka_embed.asgi import EurekaAsgiApp, create_app
from eureka_embed.blocking import may_block
from eureka_embed.config import RegistryConfig
from eureka_embed.http.messages import EndpointRequest, EndpointResponse
from eureka_embed.http.offload import EventLoopAnswers
from eureka_embed.model import Applications
from eureka_embed.registry import Registry
from eureka_embed.storage import LeaseRecord, MemoryStore
from tests.wsgi.helpers import JSON, instance_id, json_body

T = TypeVar("T")

ID1, ID2 = instance_id(1), instance_id(2)
POOL = "eureka-embed-blocking"
REGISTER = {"Content-Type": "application/json"}


class WatchedStore(MemoryStore):
    """Records the thread of every write and renewal; can hold the next write until released."""

    def __init__(self) -> None:
        super().__init__()
        self.write_threads: list[str] = []
        self.renew_threads: list[str] = []
        self.hold_next_write = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def mutate(self, app: str, instance_id: str, fn: Callable[[LeaseRecord | None], Any]) -> Any:
        self.write_threads.append(threading.current_thread().name)
        if self.hold_next_write:
            self.hold_next_write = False
            self.entered.set()
            # Bounded: on the loop thread this would otherwise hang the test, not fail it.
            self.release.wait(5)
        return super().mutate(app, instance_id, fn)

    def renew(self, app: str, instance_id: str, now_ms: int) -> LeaseRecord | None:
        self.renew_threads.append(threading.current_thread().name)
        return super().renew(app, instance_id, now_ms)


class WatchedRegistry(Registry):
    """Records the thread that reads the full registry for a payload build."""

    def __init__(self, store: WatchedStore) -> None:
        super().__init__(store, RegistryConfig(self_preservation=False))
        self.build_threads: list[str] = []

    def get_applications(self) -> Applications:
        self.build_threads.append(threading.current_thread().name)
        return super().get_applications()


def _serve(registry: Registry, scenario: Callable[[falcon.testing.ASGIConductor], Any]) -> Any:
    app: EurekaAsgiApp = create_app(registry)

    async def run() -> Any:
        async with falcon.testing.ASGIConductor(app) as conductor:
            return await scenario(conductor)

    return asyncio.run(run())


async def _register(conductor: falcon.testing.ASGIConductor, n: int) -> int:
    result = await conductor.simulate_post(
        "/eureka/apps/ORDERS", body=json_body(n), headers=REGISTER
    )
    status: int = result.status_code
    return status


def test_writes_run_in_the_pool_and_heartbeats_on_the_loop() -> None:
    store = WatchedStore()
    loop_thread = threading.current_thread().name  # asyncio.run's loop runs in this thread

    async def scenario(conductor: falcon.testing.ASGIConductor) -> None:
        assert await _register(conductor, 1) == 204
        heartbeat = await conductor.simulate_put(f"/eureka/apps/ORDERS/{ID1}")
        assert heartbeat.status_code == 200

    _serve(Registry(store), scenario)

    assert store.write_threads and all(name.startswith(POOL) for name in store.write_threads)
    assert store.renew_threads == [loop_thread]


def test_a_write_stuck_in_the_store_does_not_hold_up_heartbeats() -> None:
    store = WatchedStore()

    async def scenario(conductor: falcon.testing.ASGIConductor) -> None:
        assert await _register(conductor, 1) == 204
        store.hold_next_write = True
        stuck = asyncio.create_task(_register(conductor, 2))
        assert await asyncio.to_thread(store.entered.wait, 5)

        heartbeat = await asyncio.wait_for(
            conductor.simulate_put(f"/eureka/apps/ORDERS/{ID1}"), timeout=2
        )

        assert heartbeat.status_code == 200
        assert not stuck.done()
        store.release.set()
        assert await stuck == 204

    _serve(Registry(store), scenario)


def test_a_cache_miss_is_built_in_the_pool_and_a_hit_is_answered_on_the_loop() -> None:
    registry = WatchedRegistry(WatchedStore())

    async def scenario(conductor: falcon.testing.ASGIConductor) -> list[bytes]:
        assert await _register(conductor, 1) == 204
        first = await conductor.simulate_get("/eureka/apps", headers=JSON)
        second = await conductor.simulate_get("/eureka/apps", headers=JSON)
        return [first.content, second.content]

    first, second = _serve(registry, scenario)

    assert first == second and ID1.encode() in first
    assert len(registry.build_threads) == 1  # the hit built nothing
    assert registry.build_threads[0].startswith(POOL)


def test_a_heartbeat_that_must_write_runs_again_in_the_pool() -> None:
    # A peer's heartbeat naming another override than ours re-applies it: a write.
    store = WatchedStore()
    loop_thread = threading.current_thread().name

    async def scenario(conductor: falcon.testing.ASGIConductor) -> int:
        assert await _register(conductor, 1) == 204
        store.write_threads.clear()
        result = await conductor.simulate_put(
            f"/eureka/apps/ORDERS/{ID1}",
            params={"overriddenstatus": "OUT_OF_SERVICE"},
            headers={"x-netflix-discovery-replication": "true"},
        )
        status: int = result.status_code
        return status

    assert _serve(Registry(store), scenario) == 200

    assert len(store.write_threads) == 1 and store.write_threads[0].startswith(POOL)
    # Tried on the loop first, stopped before renewing, then renewed once in the pool.
    assert len(store.renew_threads) == 1 and store.renew_threads[0] != loop_thread
    assert store.get("ORDERS", ID1) is not None


def test_a_herd_of_reads_that_would_block_sends_one_to_the_pool_and_the_rest_wait_for_it() -> None:
    """A change wakes thousands of watchers whose reads all miss the emptied cache at once."""
    answers = EventLoopAnswers(threads=4)
    cache: dict[str, bytes] = {}
    pool_runs: list[str] = []

    def read(request: EndpointRequest) -> EndpointResponse:
        if "full" not in cache:
            may_block()  # on the loop: raises WouldBlock, nothing done yet
            pool_runs.append(threading.current_thread().name)
            time.sleep(0.05)  # the build, long enough for the whole herd to arrive
            cache["full"] = b"the registry"
        return EndpointResponse(200, "application/json", cache["full"])

    async def herd() -> list[EndpointResponse]:
        request = EndpointRequest("GET", "/eureka/apps")
        return await asyncio.gather(
            *(answers.answer(read, request, inline=True) for _ in range(200))
        )

    try:
        answered = asyncio.run(herd())
    finally:
        answers.close()

    assert [a.body for a in answered] == [b"the registry"] * 200
    assert len(pool_runs) == 1 and pool_runs[0].startswith(POOL)
    assert answers.reruns == 1
