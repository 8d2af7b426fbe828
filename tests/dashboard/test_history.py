"""The dashboard's memory of recent leases, and what listening costs the heartbeat path."""

from __future__ import annotations

from eureka_embed.clock import ManualClock
from eureka_embed.events import RegistryEvent, WriteAction
from eureka_embed.http.dashboard_history import DashboardHistory
from eureka_embed.model import InstanceInfo
from eureka_embed.registry import Registry


def test_the_lease_history_is_bounded() -> None:
    registry = Registry(clock=ManualClock())
    history = DashboardHistory(registry, leases_kept=3).attach()
    for n in range(5):
        registry.register(InstanceInfo(f"i-{n}", "ORDERS", "h", "10.0.0.1"))
    for n in range(4):
        registry.cancel("ORDERS", f"i-{n}")

    assert [entry.instance_id for entry in history.registered()] == ["i-4", "i-3", "i-2"]
    assert [entry.instance_id for entry in history.ended()] == ["i-3", "i-2", "i-1"]


def test_a_listener_without_heartbeats_gets_every_other_write_and_no_heartbeat() -> None:
    registry = Registry(clock=ManualClock())
    seen: list[WriteAction] = []

    def listener(event: RegistryEvent) -> None:
        seen.append(event.action)

    registry.add_listener(listener, heartbeats=False)
    registry.register(InstanceInfo("i-1", "ORDERS", "h", "10.0.0.1"))
    registry.renew("ORDERS", "i-1")
    registry.cancel("ORDERS", "i-1")

    assert seen == [WriteAction.REGISTER, WriteAction.CANCEL]
    registry.remove_listener(listener)
    registry.register(InstanceInfo("i-1", "ORDERS", "h", "10.0.0.1"))
    assert seen == [WriteAction.REGISTER, WriteAction.CANCEL]
