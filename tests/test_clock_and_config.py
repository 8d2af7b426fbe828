from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from eureka_embed.clock import Clock, ManualClock, SystemClock
from eureka_embed.config import RegistryConfig


def test_system_clock_follows_freezegun() -> None:
    with freeze_time("2026-01-01 00:00:00") as frozen:
        clock = SystemClock()
        assert clock.now_ms() == 1_767_225_600_000
        frozen.tick(timedelta(seconds=1.5))
        assert clock.now_ms() == 1_767_225_601_500


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(1000)
    assert isinstance(clock, Clock)
    assert clock.now_ms() == 1000
    assert clock.advance(seconds=2, ms=5) == 3005
    clock.set(10)
    assert clock.now_ms() == 10


def test_defaults_are_eurekas() -> None:
    config = RegistryConfig()
    assert config.self_preservation
    assert config.renewal_percent_threshold == 0.85
    assert config.eviction_interval_ms == 60_000
    assert config.delta_retention_ms == 180_000
    assert config.default_lease_duration_secs == 90


@pytest.mark.parametrize(
    "bad",
    [
        {"renewal_percent_threshold": 0.0},
        {"renewal_percent_threshold": 1.5},
        {"eviction_interval_ms": 0},
        {"default_lease_duration_secs": -1},
        {"initial_expected_clients": -1},
    ],
)
def test_bad_settings_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RegistryConfig(**bad)  # type: ignore[arg-type]
