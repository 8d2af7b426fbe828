"""A status change made while a registration is on the wire is still sent afterwards.

The server is a mock transport whose handler holds the chosen registration until the test
releases it, so the change lands exactly while that registration is in flight: no sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import orjson
import pytest

from eureka_embed.client import (
    DiscoveryClient,
    DiscoveryConfig,
    EurekaEndpoint,
    HttpRequest,
    HttpResponse,
    ManualScheduler,
    MockTransport,
    RestEurekaHttpClient,
)
from eureka_embed.clock import ManualClock
from eureka_embed.model import InstanceStatus

SERVER = "http://eureka:8761/eureka/"
WAIT_S = 10.0  # only ever waited out when the client is broken


class HoldingServer:
    """Answers every request at once, except registration number :attr:`hold` (counting
    from 1), which waits for :attr:`release` after setting :attr:`in_flight`."""

    def __init__(self, hold: int) -> None:
        self.hold = hold
        self.in_flight = threading.Event()
        self.release = threading.Event()
        self.registered: list[str] = []
        self.transport = MockTransport(self.handle)

    def handle(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            assert request.body is not None
            self.registered.append(orjson.loads(request.body)["instance"]["status"])
            if len(self.registered) == self.hold:
                self.in_flight.set()
                assert self.release.wait(WAIT_S), "the test never released the registration"
            return HttpResponse(204)
        return HttpResponse(200)


@pytest.fixture
def server() -> Iterator[HoldingServer]:
    held = HoldingServer(hold=2)
    yield held
    held.release.set()  # never leave the handler waiting


@pytest.mark.parametrize("ms_between", [0, 1_000], ids=["same-millisecond", "a-second-later"])
def test_a_status_change_during_a_registration_in_flight_is_sent_afterwards(
    server: HoldingServer, clock: ManualClock, ms_between: int
) -> None:
    scheduler = ManualScheduler(clock)
    rest = RestEurekaHttpClient(EurekaEndpoint.parse(SERVER), server.transport)
    client = DiscoveryClient(
        DiscoveryConfig("orders", host_name="host1", port=8080, fetch_registry=False),
        registration_client=rest,
        query_client=rest,
        scheduler=scheduler,
        clock=clock,
    )
    client.start()
    assert server.registered == ["UP"]

    client.set_status(InstanceStatus.DOWN)  # pushed by the instance check, run below
    pushing = threading.Thread(target=scheduler.run_pending, name="push-down")
    pushing.start()
    try:
        assert server.in_flight.wait(WAIT_S), "the status push never reached the server"
        clock.advance(ms=ms_between)
        client.set_status(InstanceStatus.OUT_OF_SERVICE)  # while DOWN is on the wire
    finally:
        server.release.set()
        pushing.join(WAIT_S)
    assert not pushing.is_alive()

    scheduler.run_pending()

    assert server.registered == ["UP", "DOWN", "OUT_OF_SERVICE"]
    client.shutdown()
    rest.shutdown()
