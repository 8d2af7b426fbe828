"""The delta window kept between reads is the window a read of the whole log gives.

:meth:`IndexedStore.delta_applications` keeps the window grouped between reads
(:mod:`eureka_embed.storage.delta_window`); :func:`delta_of` of :meth:`Store.delta_snapshot`
groups it afresh from the log. The two must agree after any sequence of writes, reads, clock
moves (back as well), prunes and, over a shared database, another node's writes and a reload.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.errors import InstanceNotFound
from eureka_embed.model import ActionType, InstanceStatus
from eureka_embed.registry import Registry
from eureka_embed.storage import MemoryStore, Store
from eureka_embed.storage.base import Change, delta_of
from eureka_embed.storage.delta_window import DeltaWindow
from eureka_embed.storage.sql import SqlStore
from tests.databases import sqlite_file_url
from tests.registry.helpers import instance

RETENTION_MS = RegistryConfig().delta_retention_ms


def _scratch(store: Store, since_ms: int) -> object:
    return delta_of(store.delta_snapshot(since_ms))


# -- the window alone: any timestamps, in or out of order, and pruning from the front


def _suffix_rule(log: list[Change], since_ms: int) -> dict[tuple[str, str], Change]:
    """IndexedStore._logged_since's window: back from the newest change to the first older."""
    window: list[Change] = []
    for change in reversed(log):
        if change.timestamp_ms < since_ms:
            break
        window.append(change)
    latest: dict[tuple[str, str], Change] = {}
    for change in reversed(window):
        latest[change.key] = change
    return latest


def _grouped(latest: dict[tuple[str, str], Change]) -> tuple[tuple[str, tuple[object, ...]], ...]:
    by_app: dict[str, dict[str, object]] = {}
    for (app, iid), change in latest.items():
        by_app.setdefault(app, {})[iid] = change.instance
    return tuple(
        (name, tuple(members[i] for i in sorted(members)))
        for name, members in sorted(by_app.items())
    )


# One step: ("add", how many changes, their timestamps' steps) or ("cut", since step, prune).
window_steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("add"),
            st.lists(st.tuples(st.integers(0, 5), st.integers(-3, 6)), min_size=1, max_size=6),
        ),
        st.tuples(st.just("cut"), st.integers(0, 8), st.integers(0, 3)),
    ),
    max_size=30,
)


@settings(max_examples=300)
@given(program=window_steps)
def test_the_window_keeps_what_the_suffix_rule_keeps_with_any_timestamps(
    program: list[tuple[Any, ...]],
) -> None:
    log: list[Change] = []
    start = 0  # the log's first position (pruned before it)
    window = DeltaWindow(epoch=0, position=0)
    now, since, sequence = 100, 0, 0
    for step in program:
        if step[0] == "add":
            batch = []
            for n, moved in step[1]:
                now += moved  # negative: a clock that went back (another node's, say)
                sequence += 1
                app = "A" if n % 2 else "B"
                batch.append(Change(sequence, now, ActionType.ADDED, instance(n, app)))
            log.extend(batch)
            window.add(batch)
        else:
            _, forward, pruned = step
            since += forward
            # Pruning drops changes from the front, as IndexedStore._prune_log does.
            for _ in range(pruned):
                if start < len(log) and log[start].timestamp_ms < since:
                    start += 1
            window.cut(since, start)
            expected = _suffix_rule(log[start:], since)
            assert _grouped(expected) == tuple(
                (app.name, app.instances) for app in window.applications()
            )
            assert len(window) == len(expected)


def test_an_unchanged_application_is_the_same_object_after_a_read() -> None:
    window = DeltaWindow(epoch=0, position=0)
    window.add([Change(1, 10, ActionType.ADDED, instance(1, "A"))])
    window.add([Change(2, 10, ActionType.ADDED, instance(2, "B"))])
    first = {app.name: app for app in window.applications()}
    window.add([Change(3, 11, ActionType.ADDED, instance(3, "B"))])
    window.cut(0, 0)
    second = {app.name: app for app in window.applications()}
    # What the payload caches key on: an application untouched since is not rebuilt.
    assert second["A"] is first["A"]
    assert second["B"] is not first["B"]
    assert len(second["B"].instances) == 2


# -- the stores: registry writes, reads at any time, prunes, another node, reloads

store_steps = st.lists(
    st.tuples(
        st.sampled_from(
            ["register", "register", "cancel", "status", "read", "read", "prune", "prune ahead"]
        ),
        st.integers(0, 9),
        st.sampled_from([0, 0, 1_000, 30_000, 90_000, 179_000, 181_000, 400_000, -60_000]),
    ),
    max_size=40,
)


def _apply(registry: Registry, what: str, n: int) -> None:
    app = "ORDERS" if n % 3 else "BILLING"
    try:
        if what == "register":
            registry.register(instance(n, app))
        elif what == "cancel":
            registry.cancel(app, instance(n, app).instance_id)
        elif what == "status":
            registry.update_status(app, instance(n, app).instance_id, InstanceStatus.DOWN)
    except InstanceNotFound:
        pass


def _run(writer: Registry, reader: Store, program: list[tuple[str, int, int]]) -> None:
    """``program`` through ``writer``; ``reader`` (its store, or another node's) read only at
    "read" steps, so that writes and prunes pile up between reads as they do under load."""
    clock = writer.clock
    assert isinstance(clock, ManualClock)
    stores = {id(s): s for s in (writer.store, reader)}.values()
    for what, n, moved_ms in program:
        clock.advance(ms=moved_ms)
        _apply(writer, what, n)
        if what == "prune":  # each node prunes its own log, as its maintenance does
            for store in stores:
                store.prune_changes(clock.now_ms() - RETENTION_MS)
        elif what == "prune ahead":  # a store asked to prune into the window
            for store in stores:
                store.prune_changes(clock.now_ms() - 30_000)
        if what != "read":
            continue
        if isinstance(reader, SqlStore):
            reader.sync()
        # As the registry reads it: the window ending now (it moves back only with the clock).
        since = clock.now_ms() - RETENTION_MS
        assert reader.delta_applications(since) == _scratch(reader, since)


_settings = settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_settings
@given(program=store_steps)
def test_the_memory_store_keeps_the_window_a_read_of_its_log_gives(
    program: list[tuple[str, int, int]],
) -> None:
    with MemoryStore() as store:
        _run(Registry(store, clock=ManualClock()), store, program)


@settings(max_examples=25)
@given(program=store_steps)
def test_sqlite_keeps_the_window_a_read_of_its_log_gives(
    program: list[tuple[str, int, int]],
) -> None:
    with SqlStore("sqlite://", migrate_schema=True, background=False) as store:
        _run(Registry(store, clock=ManualClock()), store, program)


@_settings
@given(program=store_steps)
def test_a_node_reading_another_nodes_writes_keeps_the_same_window(
    tmp_path_factory: pytest.TempPathFactory, program: list[tuple[str, int, int]]
) -> None:
    url = sqlite_file_url(tmp_path_factory.mktemp("shared"))
    written = SqlStore(url, migrate_schema=True, background=False)
    read = SqlStore(url, background=False)
    with written, read:
        _run(Registry(written, clock=ManualClock()), read, program)


def test_a_reload_after_a_pruned_log_starts_the_window_again(tmp_path: Path) -> None:
    url = sqlite_file_url(tmp_path)
    clock = ManualClock()
    written = SqlStore(url, migrate_schema=True, background=False)
    read = SqlStore(url, background=False)
    with written, read:
        writer = Registry(written, clock=clock)
        writer.register(instance(1, "ORDERS"))
        read.sync()
        since = clock.now_ms() - RETENTION_MS
        assert [i.instance_id for i in read.delta_applications(since).instances()] == [
            instance(1, "ORDERS").instance_id
        ]
        # The reader is away while the writer's changes are logged and pruned from the
        # database: its catch-up finds a gap and reloads everything.
        clock.advance(ms=RETENTION_MS + 1)
        writer.register(instance(2, "ORDERS"))
        clock.advance(ms=RETENTION_MS + 1)
        writer.register(instance(3, "BILLING"))
        writer.prune_changes()
        read.sync()
        since = clock.now_ms() - RETENTION_MS
        delta = read.delta_applications(since)
        assert delta == _scratch(read, since)
        assert [i.instance_id for i in delta.instances()] == [instance(3, "BILLING").instance_id]


def _ids(store: Store, since_ms: int) -> list[str]:
    delta = store.delta_applications(since_ms)
    assert delta == _scratch(store, since_ms)
    return [i.instance_id for i in delta.instances()]


def test_changes_pruned_before_a_read_took_them_in_leave_the_later_ones_in_place() -> None:
    clock = ManualClock()
    with MemoryStore() as store:
        registry = Registry(store, clock=clock)
        registry.register(instance(1))
        assert _ids(store, clock.now_ms() - RETENTION_MS) == [instance(1).instance_id]
        clock.advance(ms=1_000)
        registry.register(instance(2))
        clock.advance(ms=90_000)
        # Pruned into the window, before any read saw instance 2's change.
        store.prune_changes(clock.now_ms() - 30_000)
        registry.register(instance(3))
        assert _ids(store, clock.now_ms() - RETENTION_MS) == [instance(3).instance_id]


def test_a_clock_gone_back_brings_back_what_the_window_had_dropped() -> None:
    clock = ManualClock()
    with MemoryStore() as store:
        registry = Registry(store, clock=clock)
        registry.register(instance(1))
        clock.advance(ms=RETENTION_MS + 30_000)
        registry.register(instance(2))
        assert _ids(store, clock.now_ms() - RETENTION_MS) == [instance(2).instance_id]
        clock.advance(ms=-60_000)  # the window's start moves back before instance 1's change
        assert _ids(store, clock.now_ms() - RETENTION_MS) == [
            instance(1).instance_id,
            instance(2).instance_id,
        ]


def test_a_read_keeps_the_applications_that_did_not_change_even_at_the_same_instant() -> None:
    clock = ManualClock()
    with MemoryStore() as store:
        registry = Registry(store, clock=clock)
        registry.register(instance(1, "ORDERS"))
        registry.register(instance(2, "BILLING"))
        since = clock.now_ms() - RETENTION_MS
        first = {app.name: app for app in store.delta_applications(since)}
        registry.register(instance(3, "BILLING"))  # the clock has not moved
        second = {app.name: app for app in store.delta_applications(since)}
        # What the payload caches key on: the window is kept, not built again.
        assert second["ORDERS"] is first["ORDERS"]
        assert len(second["BILLING"].instances) == 2
        clock.advance(ms=1)
        registry.register(instance(4, "BILLING"))
        third = {app.name: app for app in store.delta_applications(clock.now_ms() - RETENTION_MS)}
        assert third["ORDERS"] is first["ORDERS"]


def test_a_change_exactly_at_the_cut_off_stays_in_the_window() -> None:
    window = DeltaWindow(epoch=0, position=0)
    window.add(
        [
            Change(1, 1_000, ActionType.ADDED, instance(1)),
            Change(2, 1_001, ActionType.ADDED, instance(2)),
        ]
    )
    window.cut(1_000, 0)  # the log's window from 1,000 on holds both (timestamp >= since)
    assert len(window) == 2
    window.cut(1_001, 0)
    assert [i.instance_id for app in window.applications() for i in app.instances] == [
        instance(2).instance_id
    ]
