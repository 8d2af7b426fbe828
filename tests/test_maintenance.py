from __future__ import annotations

import logging
import threading

import pytest

from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.maintenance import MaintenanceRunner
from eureka_embed.registry import Registry
from tests.registry.helpers import instance


def test_runner_evicts_in_the_background_and_stops_cleanly() -> None:
    clock = ManualClock()
    registry = Registry(config=RegistryConfig(self_preservation=False), clock=clock)
    registry.register(instance())
    clock.advance(seconds=91)
    evicted = threading.Event()
    registry.add_listener(lambda event: None)
    runner = MaintenanceRunner(registry, interval_scale=0.0005)  # eviction every 30 ms
    with runner:
        assert runner.running
        for _ in range(200):
            if registry.get_application("ORDERS") is None:
                evicted.set()
                break
            threading.Event().wait(0.01)
    assert evicted.is_set()
    assert not runner.running
    assert runner.runs["evict"] >= 1


def test_failing_task_is_logged_and_the_runner_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    registry = Registry(clock=ManualClock())
    calls = {"n": 0}

    def broken() -> list[object]:
        calls["n"] += 1
        raise RuntimeError("disk on fire")

    registry.evict = broken  # type: ignore[method-assign, assignment]
    with caplog.at_level(logging.ERROR), MaintenanceRunner(registry, interval_scale=0.0002):
        for _ in range(200):
            if calls["n"] >= 2:
                break
            threading.Event().wait(0.01)
    assert calls["n"] >= 2
    assert "maintenance task evict failed" in caplog.text


def test_runner_cannot_start_twice() -> None:
    runner = MaintenanceRunner(Registry(clock=ManualClock()))
    with runner, pytest.raises(RuntimeError):
        runner.start()
