"""Watches on the standalone waitress server: the cap keeps threads for heartbeats, a stop
answers held watches at once, and a peer's replicated write wakes the receiving node's."""

from __future__ import annotations

import re
import time

from eureka_embed.cli import ServeOptions, parse_serve_options
from eureka_embed.registry import Registry
from eureka_embed.server import DEFAULT_THREADS, EurekaServer, default_max_watchers
from eureka_embed.wsgi import create_app
from tests.replication.in_process import loopback_nodes
from tests.server.support import Response, register, request, wait_for
from tests.wsgi.watching import INDEX, Held

JSON = {"Accept": "application/json"}


def watch(url: str, index: int, wait: str = "30s") -> Held[Response]:
    return Held(lambda: request(f"{url}?index={index}&wait={wait}", headers=JSON, timeout=60))


def index_at(url: str) -> int:
    answer = request(url, headers=JSON)
    assert answer.status in (200, 404), answer.body
    return int(answer.headers[INDEX.lower()])


def watchers_waiting(root_url: str) -> float:
    metrics = request(f"{root_url}/metrics").body.decode()
    found = re.search(r"^eureka_watches_waiting (\S+)$", metrics, re.MULTILINE)
    assert found is not None, metrics[:2000]
    return float(found[1])


def test_with_the_cap_reached_watches_answer_at_once_and_heartbeats_flow() -> None:
    server = EurekaServer(threads=4, max_watchers=2, shutdown_timeout=10.0).start()
    try:
        assert register(server.base_url, "ORDERS", "o1") == 204
        apps = f"{server.base_url}apps"
        index = index_at(apps)
        held = [watch(apps, index), watch(apps, index)]
        wait_for(lambda: watchers_waiting(server.root_url) == 2, what="two watches held")

        started = time.monotonic()
        third = request(f"{apps}?index={index}&wait=30s", headers=JSON)
        assert time.monotonic() - started < 5
        assert third.status == 200
        assert int(third.headers[INDEX.lower()]) == index

        heartbeat = f"{server.base_url}apps/ORDERS/o1"
        statuses = [request(heartbeat, "PUT").status for _ in range(40)]
        assert statuses == [200] * 40
        assert not any(h.answered for h in held)
        metrics = request(f"{server.root_url}/metrics").body.decode()
        assert "eureka_watches_refused_total 1.0" in metrics

        started = time.monotonic()
        server.stop()
        stopped_in = time.monotonic() - started
    finally:
        server.stop()
    assert stopped_in < 5  # the drain did not wait out the 30 s watches
    assert [h.result().status for h in held] == [503, 503]  # go watch another node


def test_a_held_watch_wakes_when_a_client_registers_on_the_server() -> None:
    with EurekaServer() as server:
        url = f"{server.base_url}apps/ORDERS"
        index = index_at(url)  # a 404: nothing registered yet
        held = watch(url, index)
        wait_for(lambda: watchers_waiting(server.root_url) == 1, what="the watch held")
        assert held.still_held_after(0.1)

        assert register(server.base_url, "ORDERS", "o1") == 204

        answer = held.result()
        assert answer.status == 200
        assert int(answer.headers[INDEX.lower()]) > index
        assert answer.json()["application"]["instance"][0]["instanceId"] == "o1"


def test_a_write_replicated_from_a_peer_wakes_the_receiving_nodes_watchers() -> None:
    with loopback_nodes(2) as (a, b):
        url = f"{b.url}apps/ORDERS"
        held = watch(url, index_at(url))
        wait_for(lambda: watchers_waiting(b.server.root_url) == 1, what="the watch held on b")

        assert register(a.url, "ORDERS", "o1") == 204  # a client of a; a replicates to b

        answer = held.result()
        assert answer.status == 200
        assert answer.json()["application"]["instance"][0]["instanceId"] == "o1"


def test_max_watchers_defaults_to_a_quarter_of_the_threads() -> None:
    assert ServeOptions().max_watchers is None  # the server's default, from --threads
    server = EurekaServer(threads=DEFAULT_THREADS)
    try:
        assert server.max_watchers == 2
    finally:
        server.stop()
    assert [default_max_watchers(n) for n in (1, 3, 4, 16)] == [1, 1, 1, 4]


def test_max_watchers_from_the_flag_or_the_environment() -> None:
    assert parse_serve_options(["--max-watchers", "7"]).max_watchers == 7
    assert parse_serve_options([], {"EUREKA_EMBED_MAX_WATCHERS": "0"}).max_watchers == 0


def test_a_stop_answers_the_watches_of_an_app_given_to_the_server() -> None:
    registry = Registry()
    server = EurekaServer(registry, app=create_app(registry), shutdown_timeout=10.0).start()
    try:
        apps = f"{server.base_url}apps"
        held = watch(apps, index_at(apps), wait="60s")
        wait_for(lambda: watchers_waiting(server.root_url) == 1, what="the watch held")

        started = time.monotonic()
        server.stop()

        assert time.monotonic() - started < 5
        assert held.result().status == 503
    finally:
        server.stop()
        registry.close()


def test_max_watchers_follows_the_threads_unless_given() -> None:
    for given, held in ((None, 4), (0, 0), (9, 9)):
        server = EurekaServer(threads=16, max_watchers=given)
        try:
            assert server.max_watchers == held
        finally:
            server.stop()
