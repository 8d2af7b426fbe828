"""ReplicationSettings refuses values the sender cannot work with, naming the setting."""

from __future__ import annotations

from typing import Any

import pytest

from eureka_embed.replication.settings import ReplicationSettings

POSITIVE = [
    "max_task_age_s",
    "connect_timeout_s",
    "read_timeout_s",
    "busy_retry_s",
    "network_retry_s",
    "max_retry_s",
    "probe_interval_s",
]


def test_the_smallest_values_are_accepted() -> None:
    smallest = ReplicationSettings(
        queue_capacity=1, max_batch=1, max_batch_delay_s=0, stop_flush_s=0, max_task_age_s=0.001
    )
    assert (smallest.queue_capacity, smallest.max_batch, smallest.stop_flush_s) == (1, 1, 0)


def _given(name: str, value: float) -> dict[str, Any]:
    # Typed loosely: the settings hold numbers and TLS file names.
    return {name: value}


@pytest.mark.parametrize("name", ["queue_capacity", "max_batch"])
def test_counts_below_one_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=r"^queue_capacity and max_batch must be at least 1$"):
        ReplicationSettings(**_given(name, 0))


@pytest.mark.parametrize("name", POSITIVE)
def test_durations_that_must_be_positive_refuse_zero(name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} must be positive$"):
        ReplicationSettings(**_given(name, 0))


@pytest.mark.parametrize("name", ["max_batch_delay_s", "stop_flush_s"])
def test_negative_waits_are_refused(name: str) -> None:
    with pytest.raises(
        ValueError, match=r"^max_batch_delay_s and stop_flush_s must not be negative$"
    ):
        ReplicationSettings(**{name: -0.5})  # type: ignore[arg-type]
