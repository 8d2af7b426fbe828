"""The session layer renews its inner client after a randomised reconnect interval."""

from __future__ import annotations

import random

import pytest

from eureka_embed.client import (
    EurekaEndpoint,
    EurekaHttpClient,
    MockTransport,
    RestEurekaHttpClient,
    SessionedClient,
)
from eureka_embed.clock import ManualClock
from tests.client.support import answer

BASE = "http://eureka-a:8761/eureka/"


class _Factory:
    """Makes REST clients over mock transports, remembering each one."""

    def __init__(self) -> None:
        self.transports: list[MockTransport] = []

    def __call__(self) -> EurekaHttpClient:
        transport = MockTransport(lambda r: answer(200))
        self.transports.append(transport)
        return RestEurekaHttpClient(EurekaEndpoint.parse(BASE), transport)


class _FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_one_client_per_session_and_a_new_one_after_it(clock: ManualClock) -> None:
    factory = _Factory()
    # random() = 0.25 makes the session 0.75 x the 100 s interval.
    client = SessionedClient(factory, reconnect_interval_s=100, clock=clock, rng=_FixedRandom(0.25))

    client.cancel("A", "1")
    clock.advance(seconds=74.9)
    client.cancel("A", "1")
    assert len(factory.transports) == 1

    clock.advance(seconds=0.1)
    client.cancel("A", "1")

    assert len(factory.transports) == 2
    assert factory.transports[0].closed, "the old session's connections are closed"
    assert not factory.transports[1].closed
    assert [len(t.requests) for t in factory.transports] == [2, 1]
    client.shutdown()
    assert factory.transports[1].closed


@pytest.mark.parametrize(("draw", "expected_s"), [(0.0, 600.0), (0.999, 1798.8)])
def test_session_length_is_half_to_one_and_a_half_times_the_interval(
    clock: ManualClock, draw: float, expected_s: float
) -> None:
    client = SessionedClient(_Factory(), clock=clock, rng=_FixedRandom(draw))

    client.cancel("A", "1")

    assert client.session_length_s == pytest.approx(expected_s)
    client.shutdown()


def test_sessions_of_a_fleet_differ(clock: ManualClock) -> None:
    lengths = set()
    for seed in range(20):
        client = SessionedClient(_Factory(), clock=clock, rng=random.Random(seed))
        client.cancel("A", "1")
        lengths.add(round(client.session_length_s))
        client.shutdown()

    assert len(lengths) > 10
    assert all(600 <= length <= 1800 for length in lengths)


def test_no_requests_after_shutdown(clock: ManualClock) -> None:
    client = SessionedClient(_Factory(), clock=clock)
    client.shutdown()

    with pytest.raises(RuntimeError, match="shut down"):
        client.cancel("A", "1")
