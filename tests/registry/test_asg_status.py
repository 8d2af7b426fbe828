"""The ASG rule: a disabled ASG's instances are out of service, in Eureka's AWS rule order."""

from __future__ import annotations

import pytest

from eureka_embed.asg_status import AsgStatus
from eureka_embed.errors import InvalidInput
from eureka_embed.model import InstanceStatus
from eureka_embed.registry import Registry
from tests.registry.helpers import instance

UP = InstanceStatus.UP
OUT = InstanceStatus.OUT_OF_SERVICE


@pytest.fixture
def registry() -> Registry:
    return Registry()


def status_of(registry: Registry, n: int) -> InstanceStatus:
    found = registry.get_instance("ORDERS", f"host{n}:orders:8080")
    assert found is not None
    return found.status


def test_disabling_takes_the_asgs_instances_out_of_service_and_enabling_brings_them_back(
    registry: Registry,
) -> None:
    registry.register(instance(1, asg_name="orders-v1"))
    registry.register(instance(2, asg_name="orders-v2"))
    registry.register(instance(3))

    changed = registry.update_asg_status("orders-v1", AsgStatus.DISABLED)

    assert [i.instance_id for i in changed] == ["host1:orders:8080"]
    assert (status_of(registry, 1), status_of(registry, 2), status_of(registry, 3)) == (OUT, UP, UP)
    registry.update_asg_status("orders-v1", AsgStatus.ENABLED)
    assert status_of(registry, 1) is UP


def test_an_instance_registering_into_a_disabled_asg_starts_out_of_service(
    registry: Registry,
) -> None:
    registry.update_asg_status("orders-v1", AsgStatus.DISABLED)
    stored = registry.register(instance(1, asg_name="orders-v1"))
    assert stored.status is OUT
    # The change shows in deltas as any status change does.
    assert registry.get_delta().applications[0].instances[0].status is OUT


def test_an_explicit_override_beats_the_asg_and_down_beats_both(registry: Registry) -> None:
    registry.update_asg_status("orders-v1", AsgStatus.DISABLED)
    registry.register(instance(1, asg_name="orders-v1"))
    registry.update_status("ORDERS", "host1:orders:8080", UP)  # an operator's explicit UP
    registry.register(instance(2, asg_name="orders-v1", status=InstanceStatus.DOWN))

    registry.update_asg_status("orders-v1", AsgStatus.DISABLED)
    registry.register(instance(1, asg_name="orders-v1", ldt=200))  # a re-registration

    assert status_of(registry, 1) is UP  # the override rule comes first
    assert status_of(registry, 2) is InstanceStatus.DOWN  # the instance's own DOWN, first of all


def test_an_asg_never_set_leaves_the_status_alone(registry: Registry) -> None:
    registry.register(instance(1, asg_name="orders-v1"))
    registry.update_status("ORDERS", "host1:orders:8080", OUT)
    registry.delete_status_override("ORDERS", "host1:orders:8080", UP)
    assert status_of(registry, 1) is UP
    assert registry.asg_statuses.get("orders-v1") is None


def test_listeners_hear_each_change_with_its_origin(registry: Registry) -> None:
    heard: list[tuple[str, AsgStatus, bool]] = []
    registry.add_asg_listener(lambda *event: heard.append(event))
    registry.update_asg_status("a", AsgStatus.DISABLED)
    registry.update_asg_status("a", AsgStatus.ENABLED, replication=True)
    assert heard == [("a", AsgStatus.DISABLED, False), ("a", AsgStatus.ENABLED, True)]


@pytest.mark.parametrize("text", ["enabled", "ENABLED", " Enabled "])
def test_the_value_is_read_in_any_case(text: str) -> None:
    assert AsgStatus.parse(text) is AsgStatus.ENABLED


@pytest.mark.parametrize("text", [None, "", "UP"])
def test_other_values_are_refused_with_the_choices(text: str | None) -> None:
    with pytest.raises(InvalidInput, match="ENABLED or DISABLED"):
        AsgStatus.parse(text)


def test_a_blank_asg_name_is_refused(registry: Registry) -> None:
    with pytest.raises(InvalidInput, match="ASG name"):
        registry.update_asg_status(" ", AsgStatus.DISABLED)
