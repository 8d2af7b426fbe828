"""Registry.close() closes only a store the registry made (or was handed) itself."""

from __future__ import annotations

from pathlib import Path

from eureka_embed.clock import ManualClock
from eureka_embed.registry import Registry
from eureka_embed.storage import MemoryStore
from eureka_embed.storage.sql import SqlStore
from eureka_embed.testing import sqlite_registry
from tests.registry.helpers import instance


class Tracked(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.closed = 0

    def close(self) -> None:
        self.closed += 1
        super().close()


def test_a_given_store_stays_open_for_its_owner() -> None:
    store = Tracked()
    Registry(store).close()
    assert store.closed == 0
    store.close()


def test_a_store_handed_over_is_closed_with_the_registry() -> None:
    store = Tracked()
    Registry(store, owns_store=True).close()
    assert store.closed == 1


def test_the_registry_closes_the_memory_store_it_made() -> None:
    registry = Registry()
    registry.close()
    # A closed store ends every wait at once instead of sleeping out the timeout.
    assert registry.store.wait_for_change(registry.sequence, timeout=30) == registry.sequence


def test_a_sqlite_test_registry_closes_its_store(tmp_path: Path) -> None:
    clock = ManualClock()
    registry = sqlite_registry(tmp_path / "eureka.db", clock=clock)
    stored = registry.register(instance())
    clock.advance(seconds=20)
    registry.renew(stored.app, stored.instance_id)  # held in memory until the store closes
    registry.close()
    reopened = SqlStore(f"sqlite:///{tmp_path / 'eureka.db'}", background=False)
    try:
        record = reopened.get(stored.app, stored.instance_id)
        assert record is not None
        assert record.last_renewal_ms == clock.now_ms()
    finally:
        reopened.close()
