"""A watching DiscoveryClient against real servers on loopback.

Every client here polls only every 30 s unless a test says otherwise, so a change seen within
seconds can only have come through a watch.
"""

from __future__ import annotations

import queue
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from eureka_embed.client import (
    CacheRefreshed,
    DiscoveryClient,
    DiscoveryConfig,
    RequestKind,
    TransportConfig,
    query_client,
    registration_client,
)
from eureka_embed.config import RegistryConfig
from eureka_embed.model import InstanceStatus
from eureka_embed.registry import Registry
from eureka_embed.server import EurekaServer
from eureka_embed.wsgi import create_app
from tests.client.support import (
    LoopbackHandler,
    LoopbackServer,
    PlainEureka,
    Reply,
    RoundRobinProxy,
    Tap,
    instance,
    wait_until,
)

SLOW_POLL_S = 30.0
#: Far below the poll interval, far above a watch's wake-up on loopback.
SEEN_WITHIN_S = 5.0


def _config(base_url: str, **changes: Any) -> DiscoveryConfig:
    config = DiscoveryConfig(
        "watcher",
        service_urls=base_url,
        host_name="127.0.0.1",
        ip_addr="127.0.0.1",
        port=9100,
        register_with_eureka=False,
        registry_fetch_interval_s=SLOW_POLL_S,
        transport=TransportConfig(connect_timeout_s=1, read_timeout_s=2),
    )
    return replace(config, **changes) if changes else config


def _registry() -> Registry:
    return Registry(config=RegistryConfig(self_preservation=False))


def _ids(event: CacheRefreshed, app: str = "OTHER") -> set[str]:
    found = event.view.apps.get(app)
    return {i.instance_id for i in found.instances} if found is not None else set()


class Told:
    """A listener that queues what it is told, to wait on without sleeping."""

    def __init__(self) -> None:
        self.events: queue.Queue[CacheRefreshed] = queue.Queue()
        self.count = 0

    def __call__(self, event: CacheRefreshed) -> None:
        self.count += 1
        self.events.put(event)

    def next(self) -> CacheRefreshed:
        return self.events.get(timeout=SEEN_WITHIN_S)


@pytest.fixture
def told() -> Told:
    return Told()


@pytest.fixture
def watching(eureka_server: EurekaServer, told: Told) -> Iterator[DiscoveryClient]:
    client = DiscoveryClient(_config(eureka_server.base_url))
    client.add_listener(told)
    client.start()
    try:
        yield client
    finally:
        client.shutdown()


def test_a_registration_reaches_a_watching_client_at_once(
    eureka_server: EurekaServer, watching: DiscoveryClient, told: Told
) -> None:
    assert watching.stats().full_fetches == 1

    started = time.monotonic()
    with registration_client(eureka_server.base_url) as other:
        assert other.register(instance(7, app="OTHER")).ok
        event = told.next()

    assert time.monotonic() - started < SEEN_WITHIN_S
    assert _ids(event) == {instance(7, app="OTHER").instance_id}
    assert not event.full_fetch, "merged from the watched delta"
    stats = watching.stats()
    assert stats.watch_wakeups >= 1
    assert stats.full_fetches == 1
    assert [i.instance_id for i in watching.get_instances("other")] == [
        instance(7, app="OTHER").instance_id
    ]


def test_each_change_is_told_once_and_status_and_cancel_arrive_by_watch(
    eureka_server: EurekaServer, watching: DiscoveryClient, told: Told
) -> None:
    registry = eureka_server.registry
    other = instance(7, app="OTHER")

    registry.register(other)
    assert _ids(told.next()) == {other.instance_id}

    registry.update_status("OTHER", other.instance_id, InstanceStatus.OUT_OF_SERVICE)
    event = told.next()
    [changed] = event.view.instances("OTHER", only_up=False)
    assert changed.status is InstanceStatus.OUT_OF_SERVICE
    assert watching.get_instances("other") == ()

    registry.cancel("OTHER", other.instance_id)
    assert _ids(told.next()) == set()

    # A heartbeat changes no view: nothing more to tell, even after a poll on top.
    registry.register(instance(8, app="OTHER"))
    assert _ids(told.next()) == {instance(8, app="OTHER").instance_id}
    registry.renew("OTHER", instance(8, app="OTHER").instance_id)
    assert watching.refresh()
    assert told.count == 4
    assert told.events.empty()
    stats = watching.stats()
    assert stats.watch_wakeups >= 4
    assert stats.full_fetches == 1
    assert stats.reconcile_mismatches == 0


def test_a_watch_that_ends_its_wait_unchanged_is_followed_by_the_next_at_once(
    eureka_server: EurekaServer,
) -> None:
    config = _config(eureka_server.base_url, watch_wait_s=0.2)
    with DiscoveryClient(config) as client:
        # Three waits of 0.2 s, well within one 30 s poll interval.
        wait_until(lambda: client.stats().watch_timeouts >= 3, timeout=SEEN_WITHIN_S)
        stats = client.stats()
        assert stats.watch_refusals == 0
        assert stats.full_fetches == 1
        assert stats.fetch_delay_s == SLOW_POLL_S


def test_against_a_server_without_the_index_the_client_polls(told: Told) -> None:
    registry = _registry()
    plain = PlainEureka(create_app(registry))
    server = EurekaServer(registry, app=plain, maintenance=False)
    server.start()
    try:
        config = _config(server.base_url, registry_fetch_interval_s=0.2)
        with DiscoveryClient(config) as client:
            client.add_listener(told)
            registry.register(instance(7, app="OTHER"))
            assert _ids(told.next()) == {instance(7, app="OTHER").instance_id}
            wait_until(lambda: client.stats().delta_fetches >= 2, what="polled deltas")

            stats = client.stats()
            assert client.transport is not None
            metrics = client.transport.query_metrics.snapshot()
            assert metrics.count(RequestKind.GET_DELTA_WATCH) == 0
            assert stats.watch_wakeups == stats.watch_timeouts == stats.watch_refusals == 0
            assert not [q for q in plain.queries if "index=" in q]
    finally:
        server.stop()


def test_a_stopped_server_means_polling_with_back_off_then_watching_again(told: Told) -> None:
    first = EurekaServer(_registry(), maintenance=False)
    first.start()
    config = _config(first.base_url, registry_fetch_interval_s=0.5, fetch_backoff_bound=4)
    client = DiscoveryClient(config)
    client.add_listener(told)
    second: EurekaServer | None = None
    try:
        client.start()
        first.registry.register(instance(1, app="OTHER"))
        told.next()
        first.stop()

        wait_until(lambda: client.stats().fetch_failures >= 2, what="failing fetches")
        wait_until(lambda: client.stats().fetch_delay_s > 0.5, what="the refresh backing off")

        second = EurekaServer(_registry(), port=first.port, maintenance=False)
        second.registry.register(instance(2, app="OTHER"))
        second.start()
        # Polled from the new server (a full fetch after the merge disagrees)...
        assert _ids(told.next()) == {instance(2, app="OTHER").instance_id}
        wait_until(lambda: client.stats().fetch_delay_s == 0.5, what="the back-off over")
        wakeups = client.stats().watch_wakeups

        # ... and watched again: this change comes by a watch's wake-up.
        second.registry.register(instance(3, app="OTHER"))
        assert len(_ids(told.next())) == 2
        assert client.stats().watch_wakeups > wakeups
    finally:
        client.shutdown()
        first.stop()
        if second is not None:
            second.stop()


def test_a_stopping_server_sends_its_watchers_to_the_next_server_at_once(told: Told) -> None:
    stopping_registry, staying_registry = _registry(), _registry()
    stopping = EurekaServer(stopping_registry, maintenance=False).start()
    staying = EurekaServer(staying_registry, maintenance=False).start()
    try:
        with DiscoveryClient(_config(f"{stopping.base_url},{staying.base_url}")) as client:
            client.add_listener(told)
            wait_until(lambda: _held_watches(stopping) == 1)

            stopping.stop()
            # Its held watch was answered 503, so the client went on to the other server
            # instead of waiting out a poll interval (SLOW_POLL_S) first.
            staying_registry.register(instance(1, app="OTHER"))

            while "host1:other:8080" not in _ids(told.next()):  # each next() waits 5 s at most
                pass
            assert client.stats().watch_refusals == 0
    finally:
        stopping.stop()
        staying.stop()
        stopping_registry.close()
        staying_registry.close()


def _held_watches(server: EurekaServer) -> int:
    """Watches held by ``server``, as its /metrics reports them."""
    with urllib.request.urlopen(f"{server.root_url}/metrics", timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("eureka_watches_waiting "):
                return int(float(line.split()[1]))
    return 0


def test_after_a_failover_to_a_server_without_the_index_the_client_polls(told: Told) -> None:
    registry = _registry()
    watching_node = EurekaServer(registry, maintenance=False)
    plain_node = EurekaServer(registry, app=PlainEureka(create_app(registry)), maintenance=False)
    watching_node.start()
    plain_node.start()
    urls = f"{watching_node.base_url},{plain_node.base_url}"
    try:
        with DiscoveryClient(_config(urls, registry_fetch_interval_s=0.3)) as client:
            client.add_listener(told)
            assert client.transport is not None
            metrics = client.transport.query_metrics
            registry.register(instance(1, app="OTHER"))
            told.next()
            assert client.stats().watch_wakeups == 1

            watching_node.stop()
            registry.register(instance(2, app="OTHER"))
            assert len(_ids(told.next())) == 2
            watches = metrics.snapshot().count(RequestKind.GET_DELTA_WATCH)
            polls = metrics.snapshot().count(RequestKind.GET_DELTA)

            # From now on the plain node's answers, without an index, make the client poll.
            registry.register(instance(3, app="OTHER"))
            assert len(_ids(told.next())) == 3
            wait_until(lambda: metrics.snapshot().count(RequestKind.GET_DELTA) >= polls + 2)
            assert metrics.snapshot().count(RequestKind.GET_DELTA_WATCH) == watches
            assert client.stats().watch_wakeups == 1
    finally:
        watching_node.stop()
        plain_node.stop()


def test_a_server_that_holds_no_more_watches_does_not_make_the_client_spin(told: Told) -> None:
    registry = _registry()
    server = EurekaServer(registry, maintenance=False, max_watchers=1)
    server.start()
    holder_done = threading.Event()

    def hold_the_only_watch() -> None:
        with query_client(server.base_url) as holder:
            time.sleep(1.5)
            index = holder.get_delta().index
            assert index is not None
            holder.get_delta(index=index, wait_s=60)  # answered when the server stops
        holder_done.set()

    holder = threading.Thread(target=hold_the_only_watch)
    try:
        holder.start()
        # The holder must hold the one watch before the client asks: else the client takes it.
        wait_until(lambda: _held_watches(server) == 1, what="the holder's watch")
        interval_s = 0.3
        config = _config(server.base_url, registry_fetch_interval_s=interval_s)
        with DiscoveryClient(config) as client:
            started = time.monotonic()
            wait_until(lambda: client.stats().watch_refusals >= 3, what="refused watches")
            elapsed = time.monotonic() - started
            assert client.transport is not None
            watches = client.transport.query_metrics.snapshot().count(RequestKind.GET_DELTA_WATCH)

            # A refused watch is followed by a refresh interval, not by the next watch.
            assert elapsed >= 2 * interval_s
            assert watches <= elapsed / interval_s + 2
            # Changes still arrive, at polling pace.
            client.add_listener(told)
            registry.register(instance(7, app="OTHER"))
            assert _ids(told.next()) == {instance(7, app="OTHER").instance_id}
    finally:
        server.stop()
        holder.join(10)
    assert holder_done.is_set()


def test_servers_behind_one_address_counting_apart_do_not_make_the_client_spin() -> None:
    nodes = [EurekaServer(_registry(), maintenance=False) for _ in range(2)]
    shared = instance(1, app="OTHER")
    for node in nodes:
        node.registry.register(shared)
    # The second node has seen two more changes: its index runs ahead of the first's.
    nodes[1].registry.register(instance(2, app="OTHER"))
    nodes[1].registry.cancel("OTHER", instance(2, app="OTHER").instance_id)
    proxy = RoundRobinProxy()
    front = EurekaServer(app=proxy, maintenance=False)
    interval_s = 0.3
    running: list[EurekaServer] = []
    try:
        for server in (*nodes, front):
            server.start()
            running.append(server)
        proxy.upstreams = [node.base_url for node in nodes]
        config = _config(front.base_url, registry_fetch_interval_s=interval_s)
        with DiscoveryClient(config) as client:
            started = time.monotonic()
            wait_until(lambda: client.stats().watch_refusals >= 3, what="paced watches")
            elapsed = time.monotonic() - started
            assert client.transport is not None
            watches = client.transport.query_metrics.snapshot().count(RequestKind.GET_DELTA_WATCH)

            # Each node answers the other's index at once; after two answers whose index went
            # backwards the client waits an interval, so a few watches per interval, not
            # thousands.
            assert elapsed >= 2 * interval_s
            assert watches <= 5 * (elapsed / interval_s + 1)
            assert [i.instance_id for i in client.get_instances("other")] == [shared.instance_id]
    finally:
        for server in reversed(running):
            server.stop()
        proxy.close()


def test_a_server_with_deltas_disabled_is_polled_whole_not_watched() -> None:
    server = EurekaServer(
        Registry(config=RegistryConfig(self_preservation=False, delta_enabled=False)),
        maintenance=False,
    )
    server.start()
    interval_s = 0.3
    try:
        # The server holds even a watch it will refuse for the whole wait: keep that short.
        config = _config(server.base_url, registry_fetch_interval_s=interval_s, watch_wait_s=0.5)
        with DiscoveryClient(config) as client:
            started = time.monotonic()
            wait_until(lambda: client.stats().full_fetches >= 4, what="full fetches")
            elapsed = time.monotonic() - started
            # The refused delta is replaced by a full fetch each refresh interval; no watch
            # is held after the first refusal, none could ever succeed.
            assert elapsed >= 2 * interval_s
            assert client.transport is not None
            metrics = client.transport.query_metrics.snapshot()
            assert metrics.count(RequestKind.GET_DELTA_WATCH) <= 1
            assert client.stats().fetch_failures == 0
    finally:
        server.stop()


def test_shutdown_of_a_watching_client_ends_its_watch_at_once(
    eureka_server: EurekaServer,
) -> None:
    url = eureka_server.base_url
    with query_client(url) as queries:
        tap = Tap(queries)
        client = DiscoveryClient(_config(url), query_client=tap)
        client.start()
        wait_until(lambda: tap.count(RequestKind.GET_DELTA_WATCH) >= 1, what="a watch in flight")

        started = time.monotonic()
        client.shutdown()

        # The server would hold the watch for 30 s.
        assert time.monotonic() - started < 2
        assert client.stats().watch_timeouts == 0


def test_every_layer_carries_the_watch_down_and_the_index_up(
    eureka_server: EurekaServer, loopback: Callable[[LoopbackHandler], LoopbackServer]
) -> None:
    # A front server that redirects every read to the real one, and a dead one before it.
    front = loopback(lambda seen: Reply(302, {"Location": eureka_server.base_url + "apps/"}))
    dead = "http://127.0.0.1:1/eureka/"
    with query_client(f"{dead},{front.url}") as stack:
        index = stack.get_applications().index
        assert index is not None

        started = time.monotonic()
        held = stack.get_delta(index=index, wait_s=0.5)
        assert time.monotonic() - started >= 0.4, "the server held it: index and wait arrived"
        assert (held.status, held.index) == (200, index)

        eureka_server.registry.register(instance(7, app="OTHER"))
        moved = stack.get_delta(index=index, wait_s=30)
        assert moved.index is not None and moved.index > index
        assert [i.instance_id for i in moved.require_entity().instances()] == [
            instance(7, app="OTHER").instance_id
        ]
