"""The sync httpx transport against a live server and three real instances of a small service."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import pytest

from eureka_embed.client import DiscoveryClient, ZonePreference
from eureka_embed.client.httpx import EurekaTransport, NoInstanceAvailable
from eureka_embed.clock import ManualClock
from eureka_embed.model import InstanceStatus
from eureka_embed.server import EurekaServer
from tests.client.httpx_support import (
    APP,
    Recording,
    Service,
    caller_config,
    fleet,
    wait_for_up,
)
from tests.client.support import wait_until


@pytest.fixture
def caller(eureka_server: EurekaServer) -> Iterator[DiscoveryClient]:
    with DiscoveryClient(caller_config(eureka_server)) as client:
        yield client


@pytest.fixture
def services(eureka_server: EurekaServer, caller: DiscoveryClient) -> Iterator[list[Service]]:
    """Three registered instances of ORDERS, all in the caller's copy."""
    with fleet(eureka_server) as started:
        wait_for_up(caller, 3)
        yield started


def _answers(client: httpx.Client, count: int, url: str = "http://orders/hello") -> Counter[str]:
    return Counter(client.get(url).text for _ in range(count))


def test_round_robin_spreads_calls_evenly_over_the_up_instances(
    eureka_server: EurekaServer, caller: DiscoveryClient, services: list[Service]
) -> None:
    with httpx.Client(transport=EurekaTransport(caller)) as client:
        assert _answers(client, 30) == {"orders-1": 10, "orders-2": 10, "orders-3": 10}
        # By VIP address too, and the path, query and Host reach the instance.
        answer = client.get("http://orders-vip/a/b?c=d")
    assert answer.status_code == 200
    seen = next(s for s in services if s.name == answer.text).seen[-1]
    assert seen.path == "/a/b?c=d"
    assert seen.headers["host"] == f"127.0.0.1:{answer.request.url.port}"


def test_zone_preference_stays_in_zone_while_one_is_up_there(
    eureka_server: EurekaServer, caller: DiscoveryClient
) -> None:
    with fleet(eureka_server, "zone-a", "zone-b", "zone-b"):
        wait_for_up(caller, 3)
        transport = EurekaTransport(caller, chooser=ZonePreference("zone-a"))
        with httpx.Client(transport=transport) as client:
            assert _answers(client, 9) == {"orders-1": 9}
            eureka_server.registry.update_status(APP, "orders-1", InstanceStatus.OUT_OF_SERVICE)
            wait_for_up(caller, 2)
            # None UP in its zone: the others, in turn.
            assert _answers(client, 8) == {"orders-2": 4, "orders-3": 4}


def test_a_stopped_instance_is_retried_past_then_cooled_off_until_its_period_ends(
    eureka_server: EurekaServer, caller: DiscoveryClient, services: list[Service]
) -> None:
    clock = ManualClock()
    inner = Recording()
    transport = EurekaTransport(caller, inner=inner, cooling_period_s=30, clock=clock)
    with httpx.Client(transport=transport) as client:
        stopped = services[1]
        stopped.server.stop()

        answers = _answers(client, 12)
        assert sum(answers.values()) == 12 and "orders-2" not in answers
        # Tried once (the GET went on to the next instance), then left alone.
        assert inner.ports.count(stopped.port) == 1
        assert len(inner.ports) == 13

        clock.advance(seconds=31)
        answers = _answers(client, 6)
        assert sum(answers.values()) == 6
        assert inner.ports.count(stopped.port) == 2, "taken back after the cooling period"


def test_a_cooled_instance_is_taken_back_when_the_registry_shows_it_changed(
    eureka_server: EurekaServer, caller: DiscoveryClient, services: list[Service]
) -> None:
    clock = ManualClock()
    transport = EurekaTransport(caller, cooling_period_s=30, clock=clock)
    with httpx.Client(transport=transport) as client:
        services[0].server.stop()
        assert "orders-1" not in _answers(client, 6)

        # Restarted on another port and registered again: no need to wait the period out.
        restarted = Service("orders-1")
        try:
            eureka_server.registry.register(restarted.instance(last_dirty_timestamp=2_000))
            wait_until(
                lambda: any(i.port.port == restarted.port for i in caller.get_instances(APP)),
                what="the caller's copy showing the new port",
            )
            assert _answers(client, 6)["orders-1"] == 2
        finally:
            restarted.server.stop()


def test_a_post_is_not_sent_twice_unless_the_caller_says_so(
    eureka_server: EurekaServer, caller: DiscoveryClient, services: list[Service]
) -> None:
    inner = Recording()
    # No cooling off: the failing instance stays in turn for every request below.
    transport = EurekaTransport(caller, inner=inner, cooling_period_s=0)
    with httpx.Client(transport=transport) as client:
        services[1].status = 503
        posts = [client.post("http://orders/pay", content=b"1") for _ in range(3)]
        assert sorted(p.status_code for p in posts) == [200, 200, 503]
        assert len(inner.ports) == 3
        assert len(services[1].seen) == 1

        # A GET after a 503 goes on to the next instance; so does a POST that says so.
        sends: list[Callable[[], httpx.Response]] = [
            lambda: client.get("http://orders/x"),
            lambda: client.post("http://orders/pay", extensions={"eureka_retry": True}),
        ]
        for send in sends:
            tries, refused = len(inner.ports), len(services[1].seen)
            assert [send().status_code for _ in range(3)] == [200, 200, 200]
            retries = len(inner.ports) - tries - 3
            assert retries == len(services[1].seen) - refused >= 1


def test_retries_stop_after_max_retries_and_give_the_last_answer(
    eureka_server: EurekaServer, caller: DiscoveryClient, services: list[Service]
) -> None:
    inner = Recording()
    for service in services:
        service.status = 502
    transport = EurekaTransport(caller, inner=inner, max_retries=1, cooling_period_s=0)
    with httpx.Client(transport=transport) as client:
        assert client.get("http://orders/x").status_code == 502
        assert len(inner.ports) == 2, "one try and one retry, on two instances"
        assert len(set(inner.ports)) == 2

        # Sent once: a GET that says so, and a PUT whose body cannot be sent again.
        assert client.get("http://orders/x", extensions={"eureka_retry": False}).is_error
        assert len(inner.ports) == 3
        assert client.put("http://orders/x", content=iter([b"once"])).status_code == 502
        assert len(inner.ports) == 4


def test_an_out_of_service_instance_gets_no_traffic_once_the_cache_knows(
    eureka_server: EurekaServer, caller: DiscoveryClient, services: list[Service]
) -> None:
    with httpx.Client(transport=EurekaTransport(caller)) as client:
        eureka_server.registry.update_status(APP, "orders-3", InstanceStatus.OUT_OF_SERVICE)
        wait_for_up(caller, 2)
        before = len(services[2].seen)
        assert _answers(client, 10) == {"orders-1": 5, "orders-2": 5}
        assert len(services[2].seen) == before


def test_a_known_service_with_no_up_instance_is_a_typed_error_naming_it(
    eureka_server: EurekaServer, caller: DiscoveryClient, services: list[Service]
) -> None:
    with httpx.Client(transport=EurekaTransport(caller)) as client:
        assert client.get("http://orders/").status_code == 200
        for n in (1, 2, 3):
            eureka_server.registry.update_status(APP, f"orders-{n}", InstanceStatus.DOWN)
        wait_for_up(caller, 0)
        with pytest.raises(NoInstanceAvailable, match="orders: no UP instance") as raised:
            client.get("http://orders/")
        assert raised.value.service == "orders"

        # Gone from the registry altogether: still the service's error, not a DNS failure.
        for n in (1, 2, 3):
            eureka_server.registry.cancel(APP, f"orders-{n}")
        wait_until(lambda: APP not in caller.cache_view.apps, what="ORDERS gone from the copy")
        with pytest.raises(NoInstanceAvailable):
            client.get("http://orders/")
        # https asks for the secure port, which none of them enabled.
        eureka_server.registry.register(services[0].instance(last_dirty_timestamp=2_000))
        wait_for_up(caller, 1)
        with pytest.raises(NoInstanceAvailable, match="secure port"):
            client.get("https://orders/")


def test_an_unknown_host_passes_through_untouched(
    eureka_server: EurekaServer, caller: DiscoveryClient, services: list[Service]
) -> None:
    with httpx.Client(transport=EurekaTransport(caller)) as client:
        target = services[0]
        answer = client.get(f"http://localhost:{target.port}/plain?x=1")
        assert answer.text == "orders-1"
        assert answer.request.url == f"http://localhost:{target.port}/plain?x=1"
        assert target.seen[-1].headers["host"] == f"localhost:{target.port}"
        assert client.get(f"http://127.0.0.1:{target.port}/").text == "orders-1"
