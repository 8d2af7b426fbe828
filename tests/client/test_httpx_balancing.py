"""The instance choosers and the cooling off the httpx transports use, without a network."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from eureka_embed.client import CoolingOff, RandomChoice, RoundRobin, Weighted, ZonePreference
from eureka_embed.client.balancing import instance_zone
from eureka_embed.clock import ManualClock
from eureka_embed.model import DataCenterInfo
from tests.client.support import instance

FLEET = (
    instance(1, metadata={"weight": "6", "zone": "a"}),
    instance(
        2,
        metadata={"weight": "3"},
        data_center_info=DataCenterInfo("Amazon", {"availability-zone": "b"}),
    ),
    instance(3, metadata={"weight": "not a number"}),
)


def _spread(chooser: object, rounds: int) -> Counter[str]:
    assert isinstance(chooser, (RoundRobin, RandomChoice, Weighted, ZonePreference))
    return Counter(chooser.choose("orders", FLEET).host_name for _ in range(rounds))


def test_weights_come_from_the_metadata_key_with_a_default_for_bad_values() -> None:
    spread = _spread(Weighted("weight", rng=random.Random(7)), 10_000)
    # 6 : 3 : 1 (the unreadable weight counts as the default, 1).
    assert 5_700 < spread["host1"] < 6_300
    assert 2_700 < spread["host2"] < 3_300
    assert 800 < spread["host3"] < 1_200
    only_zero = [instance(1, metadata={"w": "0"}), instance(2, metadata={"w": "0"})]
    assert Weighted("w").choose("orders", only_zero) in only_zero
    with pytest.raises(ValueError, match="default weight"):
        Weighted(default=-1)


def test_random_and_round_robin_cover_every_candidate() -> None:
    assert set(_spread(RandomChoice(random.Random(1)), 60)) == {"host1", "host2", "host3"}
    assert _spread(RoundRobin(), 9) == {"host1": 3, "host2": 3, "host3": 3}


def test_zones_come_from_spring_metadata_or_the_aws_data_center() -> None:
    assert [instance_zone(i) for i in FLEET] == ["a", "b", None]
    assert _spread(ZonePreference("b"), 4) == {"host2": 4}
    assert _spread(ZonePreference("elsewhere"), 3) == {"host1": 1, "host2": 1, "host3": 1}


def test_cooling_off_ends_with_its_period_or_when_the_instance_changes() -> None:
    clock = ManualClock()
    cooling = CoolingOff(10, clock)
    failed = FLEET[0]
    cooling.failed(failed)
    assert cooling.usable(FLEET) == [FLEET[1], FLEET[2]]
    clock.advance(seconds=9.9)
    assert cooling.cooling(failed)
    clock.advance(seconds=0.1)
    assert not cooling.cooling(failed)

    cooling.failed(failed)
    registered_again = failed.evolve(last_dirty_timestamp=failed.last_dirty_timestamp + 1)
    assert not cooling.cooling(registered_again)
    assert CoolingOff(0, clock).usable(FLEET) is FLEET
