"""The client's registry copy: full replacement, delta merges by action type, lookups."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eureka_embed.client.cache import CacheView, RegistryCache
from eureka_embed.codec import WireFormat, decode_applications
from eureka_embed.model import (
    ActionType,
    Application,
    Applications,
    InstanceInfo,
    InstanceStatus,
    apps_hashcode,
)
from tests.client.support import instance, payload


def _ids(instances: Iterable[InstanceInfo]) -> list[str]:
    return sorted(i.instance_id for i in instances)


def _view(*instances: InstanceInfo) -> CacheView:
    """A view of ``instances`` kept in the order given (``Applications.of`` would sort)."""
    apps: dict[str, list[InstanceInfo]] = {}
    for one in instances:
        apps.setdefault(one.app, []).append(one)
    cache = RegistryCache()
    cache.replace(Applications(tuple(Application(n, tuple(m)) for n, m in apps.items()), "7", ""))
    return cache.view


def test_views_are_the_same_when_they_hold_the_same_instances_in_any_order() -> None:
    one, two, payments = instance(1), instance(2), instance(3, app="PAYMENTS")
    view = _view(one, two, payments)

    assert view.same_instances(_view(payments, two, one))
    assert not view.same_instances(_view(one, two))
    assert not view.same_instances(_view(one, two.evolve(status=InstanceStatus.DOWN), payments))
    assert not view.same_instances(_view(one, instance(4), payments))
    assert not view.same_instances(_view(one, two, instance(3, app="BILLING")))


def test_full_replacement_reports_whether_anything_changed() -> None:
    cache = RegistryCache()
    apps = Applications.of([instance(1), instance(2)])

    assert cache.replace(apps) is True
    assert cache.replace(Applications.of([instance(1), instance(2)])) is False
    assert cache.replace(Applications.of([instance(1)])) is True
    assert _ids(cache.view.instances("orders", only_up=False)) == [instance(1).instance_id]


def test_netflix_delta_merges_into_a_netflix_registry_and_reconciles() -> None:
    cache = RegistryCache()
    cache.replace(decode_applications(payload("apps_full.json"), WireFormat.JSON))
    delta = decode_applications(payload("delta.json"), WireFormat.JSON)

    outcome = cache.apply_delta(delta)

    assert outcome.changed and outcome.consistent
    view = cache.view
    assert view.hashcode == "OUT_OF_SERVICE_1_UP_1_"
    orders = view.instances("ORDERS", only_up=False)
    assert [(i.instance_id, i.status) for i in orders] == [
        ("ip-10-0-0-11.ec2.internal:orders:8080", InstanceStatus.OUT_OF_SERVICE)
    ]
    assert view.instances("orders", only_up=True) == ()
    assert view.version == "7"


def test_a_delta_that_misses_a_change_does_not_reconcile() -> None:
    cache = RegistryCache()
    cache.replace(Applications.of([instance(1), instance(2)]))
    # The server holds four UP instances, but the delta brought only one of the two new ones.
    delta = Applications.of([instance(3, action_type=ActionType.ADDED)], hashcode="UP_4_")

    outcome = cache.apply_delta(delta)

    assert not outcome.consistent
    assert (outcome.local_hashcode, outcome.server_hashcode) == ("UP_3_", "UP_4_")


def test_deleting_the_last_instance_removes_the_application() -> None:
    cache = RegistryCache()
    cache.replace(Applications.of([instance(1), instance(1, app="PAYMENTS")]))

    cache.apply_delta(
        Applications.of([instance(1, action_type=ActionType.DELETED)], hashcode="UP_1_")
    )

    assert set(cache.view.apps) == {"PAYMENTS"}


def test_a_delta_deleting_what_is_not_there_changes_nothing() -> None:
    cache = RegistryCache()
    cache.replace(Applications.of([instance(1)]))
    before = cache.view

    outcome = cache.apply_delta(
        Applications.of([instance(9, action_type=ActionType.DELETED)], hashcode="UP_1_")
    )

    assert not outcome.changed and outcome.consistent
    assert cache.view is before


def test_vip_lookups_split_comma_separated_addresses_and_filter_up() -> None:
    cache = RegistryCache()
    cache.replace(decode_applications(payload("apps_full.xml"), WireFormat.XML))
    view = cache.view

    assert _ids(view.by_vip("payments-v2", secure=False, only_up=True)) == ["i-0a1b2c3d4e5f"]
    assert _ids(view.by_vip("PAYMENTS-SECURE", secure=True, only_up=True)) == ["i-0a1b2c3d4e5f"]
    assert len(view.by_vip("orders", secure=False, only_up=False)) == 2
    assert len(view.by_vip("orders", secure=False, only_up=True)) == 1
    assert view.by_vip("nothing", secure=False, only_up=False) == ()


def test_views_already_handed_out_do_not_change() -> None:
    cache = RegistryCache()
    cache.replace(Applications.of([instance(1)]))
    old = cache.view

    cache.apply_delta(Applications.of([instance(2, action_type=ActionType.ADDED)]))

    assert len(old) == 1 and len(cache.view) == 2


_STATUSES = st.sampled_from(list(InstanceStatus))
_CHANGES = st.lists(
    st.tuples(st.integers(1, 8), st.sampled_from(list(ActionType)), _STATUSES), max_size=30
)


@given(start=st.lists(st.tuples(st.integers(1, 8), _STATUSES), max_size=8), changes=_CHANGES)
def test_merging_deltas_gives_what_the_server_holds(
    start: list[tuple[int, InstanceStatus]], changes: list[tuple[int, ActionType, InstanceStatus]]
) -> None:
    server = {n: instance(n, status=s) for n, s in start}
    cache = RegistryCache()
    cache.replace(Applications.of(server.values()))

    for n, action, status in changes:
        changed = instance(n, status=status, action_type=action)
        if action is ActionType.DELETED:
            server.pop(n, None)
        else:
            server[n] = changed
        outcome = cache.apply_delta(
            Applications.of([changed], hashcode=apps_hashcode(server.values()))
        )
        assert outcome.consistent

    assert _ids(cache.view.instances("ORDERS", only_up=False)) == _ids(server.values())
    assert cache.view.hashcode == apps_hashcode(server.values())


_ids_small = st.integers(1, 6)
_apps_small = st.sampled_from(["ORDERS", "PAYMENTS"])
_one = st.builds(
    lambda n, app, status: instance(n, app=app, status=status),
    _ids_small,
    _apps_small,
    st.sampled_from(InstanceStatus),
)
_steps = st.lists(
    st.one_of(
        st.tuples(st.just("full"), st.lists(_one, max_size=6)),
        st.tuples(
            st.just("delta"),
            st.lists(st.tuples(_one, st.sampled_from(ActionType)), max_size=4),
        ),
    ),
    max_size=8,
)


@given(_steps)
@settings(suppress_health_check=[HealthCheck.too_slow])  # up to eight registries an example
def test_the_view_hashcode_after_any_fetches_and_merges_is_that_of_its_instances(
    steps: list[tuple[str, list[Any]]],
) -> None:
    cache = RegistryCache()
    for kind, items in steps:
        if kind == "full":
            cache.replace(Applications.of(items))
        else:
            changes = [one.evolve(action_type=action) for one, action in items]
            outcome = cache.apply_delta(Applications.of(changes, hashcode=""))
            assert outcome.local_hashcode == cache.view.hashcode
        view = cache.view
        everything = [i for app in view.apps.values() for i in app.instances]
        assert view.hashcode == apps_hashcode(everything)
