"""Following a remote region as a Eureka client does: a full fetch, then deltas checked by the
hashcode (a full fetch again on a mismatch), the last copy kept while the remote is down, the
changes of the delta window; and the merge of the copies into answers, as Netflix merges."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from eureka_embed.client.response import RequestKind
from eureka_embed.clock import ManualClock
from eureka_embed.errors import InvalidInput
from eureka_embed.model import ActionType, Applications, InstanceInfo, InstanceStatus
from eureka_embed.remote_regions import (
    DEFAULT_FETCH_INTERVAL_S,
    RemoteRegion,
    RemoteRegions,
    following,
)
from tests.client.support import instance, wrong_delta_hashcode_once
from tests.regions.support import REGION, RegionRig, region_rig


@pytest.fixture
def rig(clock: ManualClock) -> Iterator[RegionRig]:
    made = region_rig(clock)
    yield made
    made.follower.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def ids(apps: Applications) -> list[str]:
    return [i.instance_id for app in apps.applications for i in app.instances]


def test_the_default_interval_is_netflixs() -> None:
    assert DEFAULT_FETCH_INTERVAL_S == 30.0


def test_start_fetches_the_whole_registry_then_deltas_every_interval(rig: RegionRig) -> None:
    rig.remote.register(instance(1, "BILLING"))
    rig.follower.start()

    assert rig.tap.count(RequestKind.GET_APPLICATIONS) == 1
    assert [i.instance_id for i in rig.follower.view.instances("BILLING", only_up=False)] == [
        "host1:billing:8080"
    ]
    rig.remote.register(instance(2, "BILLING"))
    rig.advance(29)
    assert rig.tap.count(RequestKind.GET_DELTA) == 0

    rig.advance(1)

    assert rig.tap.count(RequestKind.GET_DELTA) == 1
    assert rig.tap.count(RequestKind.GET_APPLICATIONS) == 1
    assert len(rig.follower.view) == 2


def test_a_delta_whose_hashcode_disagrees_is_followed_by_a_full_fetch(rig: RegionRig) -> None:
    rig.remote.register(instance(1, "BILLING"))
    rig.follower.start()
    rig.remote.register(instance(2, "BILLING"))
    wrong_delta_hashcode_once(rig.tap)

    rig.advance(30)

    assert rig.tap.count(RequestKind.GET_APPLICATIONS) == 2
    assert rig.follower.client.stats().reconcile_mismatches == 1
    assert len(rig.follower.view) == 2


def test_a_remote_that_is_down_leaves_the_last_copy_and_says_it_fails(rig: RegionRig) -> None:
    rig.remote.register(instance(1, "BILLING"))
    rig.follower.start()
    fetched_at = rig.clock.now_ms()
    assert rig.follower.status().ok

    rig.tap.down = True
    rig.remote.register(instance(2, "BILLING"))
    rig.advance(30)

    status = rig.follower.status()
    assert (status.ok, status.last_success_ms, status.instances) == (False, fetched_at, 1)
    assert len(rig.follower.view) == 1

    rig.tap.down = False
    rig.advance(600)  # past the back-off (10 x the interval at most)

    status = rig.follower.status()
    assert status.ok and status.instances == 2
    assert status.last_success_ms is not None and status.last_success_ms > fetched_at


def test_a_region_is_not_ready_until_its_first_fetch_worked(rig: RegionRig) -> None:
    regions = rig.regions()
    rig.tap.down = True
    rig.follower.start()

    assert regions.not_ready() == REGION
    assert rig.follower.status() == rig.follower.status().__class__(
        REGION, rig.follower.region.url, None, 0, ok=False
    )

    rig.tap.down = False
    rig.advance(600)

    assert regions.not_ready() is None


def test_changes_are_kept_with_action_types_for_the_delta_window(rig: RegionRig) -> None:
    rig.remote.register(instance(1, "BILLING"))
    rig.remote.register(instance(2, "BILLING"))
    rig.follower.start()
    first = {i.instance_id: i.action_type for i in rig.follower.recent_changes()}
    assert first == {
        "host1:billing:8080": ActionType.ADDED,
        "host2:billing:8080": ActionType.ADDED,
    }

    rig.remote.cancel("BILLING", "host1:billing:8080")
    rig.remote.update_status("BILLING", "host2:billing:8080", InstanceStatus.OUT_OF_SERVICE)
    rig.advance(30)

    changes = {i.instance_id: i for i in rig.follower.recent_changes()}
    assert changes["host1:billing:8080"].action_type is ActionType.DELETED
    assert changes["host2:billing:8080"].action_type is ActionType.MODIFIED
    assert changes["host2:billing:8080"].status is InstanceStatus.OUT_OF_SERVICE
    generation = rig.follower.generation

    rig.advance(181)  # nothing changed since: the window empties

    assert rig.follower.recent_changes() == []
    assert rig.follower.generation == generation


def test_only_followed_regions_count_in_any_case_and_order_once_each(clock: ManualClock) -> None:
    regions = RemoteRegions([region_rig(clock, "us-east-1").follower, region_rig(clock).follower])

    assert regions.known("EU-WEST-1, nowhere,us-east-1,eu-west-1") == ("eu-west-1", "us-east-1")
    assert regions.known("nowhere") == ()
    assert regions.known("") == ()
    assert regions.known(None) == ()


def test_the_merge_joins_applications_and_a_remote_copy_replaces_a_local_one(
    rig: RegionRig,
) -> None:
    rig.remote.register(instance(1, "ORDERS", InstanceStatus.DOWN))  # host1:orders:8080 too
    rig.remote.register(instance(7, "ORDERS"))
    rig.remote.register(instance(1, "BILLING"))
    rig.follower.start()
    local = Applications.of([instance(1, "ORDERS"), instance(2, "ORDERS")], version="5")

    merged = rig.regions().full(local, [REGION])

    assert [app.name for app in merged.applications] == ["BILLING", "ORDERS"]
    orders = merged.get("ORDERS")
    assert orders is not None
    by_id = {i.instance_id: i.status for i in orders.instances}
    assert by_id == {
        "host1:orders:8080": InstanceStatus.DOWN,  # the remote copy
        "host2:orders:8080": InstanceStatus.UP,
        "host7:orders:8080": InstanceStatus.UP,
    }
    assert merged.apps_hashcode == "DOWN_1_UP_3_"
    assert merged.version == "5"
    assert rig.regions().full(local, []) == Applications.of(local_instances(local), version="5")


def local_instances(apps: Applications) -> list[InstanceInfo]:
    return [i for app in apps.applications for i in app.instances]


def test_a_delta_with_regions_carries_the_remote_changes_and_the_merged_hashcode(
    rig: RegionRig,
) -> None:
    rig.remote.register(instance(1, "BILLING"))
    rig.follower.start()
    local_full = Applications.of([instance(1, "ORDERS"), instance(2, "ORDERS")])
    local_delta = Applications.of(
        [instance(2, "ORDERS", action_type=ActionType.ADDED)], hashcode="UP_2_"
    )

    delta = rig.regions().delta(local_delta, local_full, [REGION])

    assert sorted(ids(delta)) == ["host1:billing:8080", "host2:orders:8080"]
    assert delta.apps_hashcode == "UP_3_"


def test_vip_answers_add_the_remote_instances_of_that_vip(rig: RegionRig) -> None:
    rig.remote.register(instance(1, "BILLING", vip_address="shared,billing"))
    rig.remote.register(instance(2, "PAYMENTS"))
    rig.follower.start()
    local = Applications.of([instance(1, "ORDERS", vip_address="shared")], version="-1")

    found = rig.regions().vip(local, "SHARED", [REGION], secure=False)

    assert ids(found) == ["host1:billing:8080", "host1:orders:8080"]
    assert found.apps_hashcode == "UP_2_"


@pytest.mark.parametrize(
    "text",
    ["eu-west-1", "=http://a:8761/eureka/", "eu-west-1=", "eu,us=http://a/eureka/", "a=ftp//x"],
)
def test_a_region_is_name_equals_url(text: str) -> None:
    with pytest.raises(ValueError, match=r"NAME=URL|region name|URL|url"):
        RemoteRegion.parse(text)


def test_a_region_parses_with_its_name_in_lower_case() -> None:
    parsed = RemoteRegion.parse(" EU-West-1 = http://eureka-eu:8761/eureka/ ")

    assert parsed == RemoteRegion("eu-west-1", "http://eureka-eu:8761/eureka/")


def test_two_regions_of_one_name_are_refused() -> None:
    region = RemoteRegion("eu", "http://a:8761/eureka/")

    with pytest.raises(InvalidInput, match="name of its own"):
        following([region, region])
    assert following([]) is None
