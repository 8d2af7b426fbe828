"""``Watches.wait_async``: watchers on an asyncio loop, woken by changes made in other threads,
each costing a future rather than a thread (plain asyncio; the ASGI adapter builds on it)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from eureka_embed.http.watches import Watches, WatchRequest
from eureka_embed.registry import Registry
from eureka_embed.storage.view_index import ALL, app_view
from tests.registry.helpers import instance

WAKE_WITHIN_S = 10.0


@pytest.fixture
def registry() -> Iterator[Registry]:
    made = Registry()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def watches(registry: Registry) -> Iterator[Watches]:
    made = Watches(registry.store)
    try:
        yield made
    finally:
        made.close()


def pump_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "eureka-watches"]


async def until_waiting(watches: Watches, count: int) -> None:
    deadline = time.monotonic() + WAKE_WITHIN_S
    while watches.waiting < count:
        assert time.monotonic() < deadline, f"{watches.waiting} of {count} watchers held"
        await asyncio.sleep(0.001)


async def in_thread(fn: Callable[..., object], *args: object) -> None:
    """Run a registry write in another thread, as a WSGI worker or a peer's batch would."""
    await asyncio.to_thread(fn, *args)


def test_a_watcher_wakes_on_a_change_made_in_another_thread(
    registry: Registry, watches: Watches
) -> None:
    async def scenario() -> float:
        watch = WatchRequest(app_view("ORDERS"), watches.index(app_view("ORDERS")), 30.0)
        held = asyncio.create_task(watches.wait_async(watch))
        await until_waiting(watches, 1)
        await asyncio.sleep(0.05)
        assert not held.done()

        started = time.monotonic()
        await in_thread(registry.register, instance(1))
        await asyncio.wait_for(held, WAKE_WITHIN_S)
        return time.monotonic() - started

    assert asyncio.run(scenario()) < WAKE_WITHIN_S
    assert watches.waiting == 0


def test_a_watcher_of_one_application_sleeps_through_changes_of_others(
    registry: Registry, watches: Watches
) -> None:
    async def scenario() -> float:
        watch = WatchRequest(app_view("ORDERS"), watches.index(app_view("ORDERS")), 0.5)
        started = time.monotonic()
        held = asyncio.create_task(watches.wait_async(watch))
        await until_waiting(watches, 1)
        await in_thread(registry.register, instance(1, "BILLING"))
        await in_thread(registry.register, instance(2, "BILLING"))
        await asyncio.wait_for(held, WAKE_WITHIN_S)
        return time.monotonic() - started

    assert asyncio.run(scenario()) >= 0.45  # it waited out its wait


def test_a_watch_past_the_current_index_returns_at_once(watches: Watches) -> None:
    async def scenario() -> None:
        await asyncio.wait_for(watches.wait_async(WatchRequest(ALL, 0, 30.0)), 1.0)
        current = watches.index(ALL)
        await asyncio.wait_for(watches.wait_async(WatchRequest(ALL, current + 5, 30.0)), 1.0)
        await asyncio.wait_for(watches.wait_async(WatchRequest(ALL, current, 0.0)), 1.0)

    asyncio.run(scenario())
    assert not pump_threads()  # nothing was held, nothing was started


def test_thousands_of_watchers_cost_no_thread_and_all_wake_on_one_change(
    registry: Registry, watches: Watches
) -> None:
    count = 3_000
    threads_before = threading.active_count()

    async def scenario() -> tuple[int, float]:
        index = watches.index(ALL)
        held = [
            asyncio.create_task(watches.wait_async(WatchRequest(ALL, index, 60.0)))
            for _ in range(count)
        ]
        await until_waiting(watches, count)
        threads_held = threading.active_count()
        started = time.monotonic()
        await in_thread(registry.register, instance(1))
        await asyncio.wait_for(asyncio.gather(*held), WAKE_WITHIN_S)
        return threads_held, time.monotonic() - started

    threads_held, woke_in = asyncio.run(scenario())

    assert threads_held <= threads_before + 1  # the one waking thread, whatever the count
    assert woke_in < WAKE_WITHIN_S
    assert watches.waiting == 0


def test_watchers_on_two_loops_wake_on_the_same_change(
    registry: Registry, watches: Watches
) -> None:
    index = watches.index(ALL)
    woken: list[bool] = []

    def loop_with_a_watcher(ready: threading.Event) -> None:
        async def scenario() -> None:
            held = asyncio.create_task(watches.wait_async(WatchRequest(ALL, index, 30.0)))
            await asyncio.sleep(0)
            ready.set()
            await asyncio.wait_for(held, WAKE_WITHIN_S)
            woken.append(True)

        asyncio.run(scenario())

    ready = [threading.Event(), threading.Event()]
    loops = [threading.Thread(target=loop_with_a_watcher, args=(r,)) for r in ready]
    for thread in loops:
        thread.start()
    for event in ready:
        assert event.wait(WAKE_WITHIN_S)
    deadline = time.monotonic() + WAKE_WITHIN_S
    while watches.waiting < 2 and time.monotonic() < deadline:
        time.sleep(0.001)

    registry.register(instance(1))

    for thread in loops:
        thread.join(WAKE_WITHIN_S)
    assert woken == [True, True]


def test_close_ends_every_async_wait_and_the_waking_thread(watches: Watches) -> None:
    async def scenario() -> float:
        watch = WatchRequest(ALL, watches.index(ALL), 60.0)
        held = [asyncio.create_task(watches.wait_async(watch)) for _ in range(10)]
        await until_waiting(watches, 10)
        started = time.monotonic()
        await asyncio.to_thread(watches.close)
        await asyncio.wait_for(asyncio.gather(*held), WAKE_WITHIN_S)
        # After close, a watch of the unchanged index is answered at once.
        await asyncio.wait_for(watches.wait_async(watch), 1.0)
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 2.0
    assert not pump_threads()


def test_closing_the_store_ends_the_waits_too(registry: Registry, watches: Watches) -> None:
    async def scenario() -> None:
        held = asyncio.create_task(watches.wait_async(WatchRequest(ALL, watches.index(ALL), 60.0)))
        await until_waiting(watches, 1)
        await asyncio.to_thread(registry.close)
        await asyncio.wait_for(held, WAKE_WITHIN_S)

    asyncio.run(scenario())


def test_a_cancelled_watcher_is_forgotten_and_the_waking_thread_ends(watches: Watches) -> None:
    async def scenario() -> None:
        held = asyncio.create_task(watches.wait_async(WatchRequest(ALL, watches.index(ALL), 60.0)))
        await until_waiting(watches, 1)
        held.cancel()
        with pytest.raises(asyncio.CancelledError):
            await held

    asyncio.run(scenario())

    assert watches.waiting == 0
    deadline = time.monotonic() + WAKE_WITHIN_S
    while pump_threads():  # it looks up from the store a few times a second
        assert time.monotonic() < deadline, "the waking thread outlived its last watcher"
        time.sleep(0.01)


def test_blocking_and_async_watchers_wake_together(registry: Registry, watches: Watches) -> None:
    index = watches.index(ALL)
    blocking = threading.Thread(target=watches.wait, args=(WatchRequest(ALL, index, 30.0),))

    async def scenario() -> None:
        held = asyncio.create_task(watches.wait_async(WatchRequest(ALL, index, 30.0)))
        blocking.start()
        await until_waiting(watches, 2)
        await in_thread(registry.register, instance(1))
        await asyncio.wait_for(held, WAKE_WITHIN_S)

    asyncio.run(scenario())
    blocking.join(WAKE_WITHIN_S)
    assert not blocking.is_alive()
