"""``Store.delta_after_index``: the changes after a watch index, or None when they are unknown.

A watching client that read the registry at index N and merges the changes after N holds the
registry as it is now, and the delta's hashcode says so. The store may answer None (the caller
then sends the whole delta window), but never a partial list: checked over any sequence of
writes and log prunings, on the memory store and on SQLite.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.errors import InstanceNotFound
from eureka_embed.model import ActionType, InstanceInfo, InstanceStatus, apps_hashcode
from eureka_embed.registry import Registry
from eureka_embed.storage import MemoryStore, Store
from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.view_index import ALL
from tests.registry.helpers import instance

Key = tuple[str, str]

steps = st.lists(
    st.tuples(
        st.sampled_from(["register", "register", "renew", "cancel", "status", "prune", "look"]),
        st.integers(0, 5),
        st.sampled_from([InstanceStatus.UP, InstanceStatus.DOWN, InstanceStatus.OUT_OF_SERVICE]),
    ),
    max_size=30,
)


def _apply(registry: Registry, clock: ManualClock, what: str, n: int, s: InstanceStatus) -> None:
    app = "ORDERS" if n % 2 else "BILLING"
    iid = instance(n, app).instance_id
    clock.advance(seconds=1)
    try:
        if what == "register":
            registry.register(instance(n, app, status=s))
        elif what == "renew":
            registry.renew(app, iid)
        elif what == "cancel":
            registry.cancel(app, iid)
        elif what == "status":
            registry.update_status(app, iid, s)
        elif what == "prune":
            registry.store.prune_changes(clock.now_ms())
    except InstanceNotFound:
        pass


def _held(registry: Registry) -> dict[Key, InstanceInfo]:
    return {(r.app, r.instance_id): r.instance for r in registry.store.snapshot().records}


def _run(store: Store, program: list[tuple[str, int, InstanceStatus]]) -> None:
    clock = ManualClock()
    registry = Registry(store, RegistryConfig(self_preservation=False), clock, rng=random.Random(1))
    # (index read, what the registry held then, its sequence then)
    seen: list[tuple[int, dict[Key, InstanceInfo], int]] = []
    pruned_after: set[int] = set()  # positions in ``seen`` whose later changes were pruned
    for what, n, status in program:
        seen.append((store.view_index(ALL), _held(registry), store.latest_sequence()))
        before = store.latest_sequence()
        _apply(registry, clock, what, n, status)
        if what == "prune":
            pruned_after.update(i for i, (_, _, sequence) in enumerate(seen) if sequence < before)
    now = _held(registry)
    for position, (index, held, sequence) in enumerate(seen):
        snapshot = store.delta_after_index(index)
        if snapshot is None:
            # Only where the log no longer has every change after the index.
            assert position in pruned_after
            continue
        merged = dict(held)
        for change in snapshot.changes:
            if change.action is ActionType.DELETED:
                merged.pop(change.key, None)
            else:
                merged[change.key] = change.instance
        assert merged.keys() == now.keys()
        assert {k: v.status for k, v in merged.items()} == {k: v.status for k, v in now.items()}
        assert snapshot.apps_hashcode == apps_hashcode(merged.values())
        # Exactly the changes after it, none from before.
        assert [c.sequence for c in snapshot.changes] == list(
            range(sequence + 1, store.latest_sequence() + 1)
        )
    registry.close()


_settings = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(program=steps)
def test_memory_store_changes_after_an_index_bring_a_client_up_to_date(
    program: list[tuple[str, int, InstanceStatus]],
) -> None:
    with MemoryStore() as store:
        _run(store, program)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=steps)
def test_sqlite_store_changes_after_an_index_bring_a_client_up_to_date(
    program: list[tuple[str, int, InstanceStatus]],
) -> None:
    with SqlStore("sqlite://", migrate_schema=True, background=False) as store:
        _run(store, program)


def test_only_the_changes_after_the_index_are_answered() -> None:
    clock = ManualClock()
    with MemoryStore() as store:
        registry = Registry(store, RegistryConfig(), clock)
        registry.register(instance(1))
        registry.register(instance(2))
        index = store.view_index(ALL)
        registry.register(instance(3))
        registry.cancel("ORDERS", instance(1).instance_id)

        snapshot = store.delta_after_index(index)

        assert snapshot is not None
        assert [(c.action, c.instance.instance_id) for c in snapshot.changes] == [
            (ActionType.ADDED, instance(3).instance_id),
            (ActionType.DELETED, instance(1).instance_id),
        ]
        assert store.delta_after_index(store.view_index(ALL)).changes == []  # type: ignore[union-attr]
        delta = registry.get_delta(after_index=index)
        assert sorted(i.instance_id for a in delta.applications for i in a.instances) == sorted(
            [instance(3).instance_id, instance(1).instance_id]
        )
        assert delta.apps_hashcode == registry.apps_hashcode()


def test_an_index_this_store_never_gave_out_answers_the_whole_window() -> None:
    clock = ManualClock()
    with MemoryStore() as store:
        registry = Registry(store, RegistryConfig(), clock)
        registry.register(instance(1))
        registry.register(instance(2))
        current = store.view_index(ALL)

        assert store.delta_after_index(current + 1) is None  # from a server further on
        assert store.delta_after_index(0) is None  # below every index (they start at 1)
        window = registry.get_delta(after_index=current + 5)
        assert sum(len(a.instances) for a in window.applications) == 2


def test_an_index_whose_changes_were_pruned_answers_the_whole_window() -> None:
    clock = ManualClock()
    with MemoryStore() as store:
        registry = Registry(store, RegistryConfig(), clock)
        registry.register(instance(1))
        index = store.view_index(ALL)
        clock.advance(seconds=1)
        registry.register(instance(2))
        clock.advance(seconds=1)
        registry.register(instance(3))
        store.prune_changes(clock.now_ms())  # drops instance 2's change, keeps 3's

        assert store.delta_after_index(index) is None
        assert store.delta_after_index(store.view_index(ALL) - 1) is not None
