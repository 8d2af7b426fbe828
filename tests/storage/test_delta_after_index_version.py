"""The delta after a watch index carries the same version and shape as the whole delta.

A watching client gets ``GET apps/delta`` answered from the changes after its index; the
version it reads there (``versions__delta``) must be the registry's sequence, as in the
delta of the whole window, and the snapshot holds no records, as ``delta_snapshot``'s.
"""

from __future__ import annotations

from eureka_embed.clock import ManualClock
from eureka_embed.registry import Registry
from eureka_embed.storage import MemoryStore
from eureka_embed.storage.view_index import ALL
from tests.registry.helpers import instance


def test_the_delta_after_an_index_has_the_registry_sequence_as_its_version() -> None:
    with MemoryStore() as store:
        registry = Registry(store, clock=ManualClock())
        registry.register(instance(1, "ORDERS"))
        index = store.view_index(ALL)
        registry.register(instance(2, "BILLING"))

        snapshot = store.delta_after_index(index)
        assert snapshot is not None
        assert snapshot.sequence == store.latest_sequence() == 2
        assert snapshot.records == ()
        billing = instance(2, "BILLING")
        assert [c.key for c in snapshot.changes] == [("BILLING", billing.instance_id)]

        assert store.delta_snapshot(0).records == ()  # as the whole window's snapshot

        after = registry.get_delta(after_index=index)
        whole = registry.get_delta()
        assert after.version == whole.version == "2"
        assert after.apps_hashcode == whole.apps_hashcode
