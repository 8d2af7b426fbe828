"""Renewals per minute across a silence: what keeps an outage from turning into mass eviction.

The registry counts renewals per whole minute. When a minute closes lazily, long after its end
(the node was paused, or nothing asked for the rate for a while), the minute that just ended is
not the one that was counted: the clients fell silent in between, so the last minute saw zero
renewals. Reporting the stale count would keep lease expiration enabled with every lease expired,
and the next eviction run would remove as many instances as its cap allows.

Time is a ManualClock given to the registry; no test sleeps.
"""

from __future__ import annotations

import pytest

from eureka_embed.clock import ManualClock
from eureka_embed.registry import Registry
from tests.registry.helpers import instance

CLIENTS = 20
MINUTE_S = 60.0


def healthy_registry(clock: ManualClock) -> Registry:
    """CLIENTS instances renewing every 30 s for three minutes (at 15 s and 45 s of each)."""
    registry = Registry(clock=clock)
    for n in range(CLIENTS):
        registry.register(instance(n))
    start = clock.now_ms()
    for second in (15, 45, 75, 105, 135, 165):
        clock.set(start + second * 1000)
        for n in range(CLIENTS):
            registry.renew("ORDERS", instance(n).instance_id)
    # 21 expected clients (20 and the node itself) x 2 per minute x 0.85.
    assert registry.renewal_threshold() == 35
    return registry


def test_without_a_gap_the_last_minute_reports_its_renewals() -> None:
    clock = ManualClock()
    registry = healthy_registry(clock)
    clock.advance(seconds=16)  # into the next minute: the one just closed had 2 x 20 renewals
    assert registry.renews_last_minute() == 2 * CLIENTS
    assert registry.is_lease_expiration_enabled()
    assert not registry.is_self_preservation_active()


@pytest.mark.parametrize("silent_minutes", [2, 5, 30])
def test_after_minutes_without_renewals_the_last_minute_counts_zero(silent_minutes: int) -> None:
    clock = ManualClock()
    registry = healthy_registry(clock)
    # Nothing at all happens for the whole silence: no renewal, no read of the rate.
    clock.advance(seconds=silent_minutes * MINUTE_S)
    assert registry.renews_last_minute() == 0
    assert registry.is_self_preservation_active()


def test_an_outage_evicts_nothing_once_the_node_runs_again() -> None:
    clock = ManualClock()
    registry = healthy_registry(clock)
    clock.advance(seconds=5 * MINUTE_S)  # every lease is long expired now
    assert registry.evict() == []
    assert len(list(registry.get_applications().instances())) == CLIENTS
    assert registry.evicted_total == 0


def test_one_dead_client_is_still_evicted_when_the_rest_keep_renewing() -> None:
    # The counterpart: a real death with healthy renewals around it is not self-preservation.
    clock = ManualClock()
    registry = healthy_registry(clock)
    for _ in range(4):
        clock.advance(seconds=30)
        for n in range(CLIENTS - 1):
            registry.renew("ORDERS", instance(n).instance_id)
    clock.advance(seconds=16)
    assert registry.renews_last_minute() == 2 * (CLIENTS - 1)
    assert [i.host_name for i in registry.evict()] == [f"host{CLIENTS - 1}"]
