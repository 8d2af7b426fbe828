from __future__ import annotations

import dataclasses

import pytest

from eureka_embed.model import (
    ActionType,
    Applications,
    DataCenterInfo,
    InstanceInfo,
    InstanceStatus,
    LeaseInfo,
    apps_hashcode,
    copier,
)


def make(n: int, app: str = "A", status: InstanceStatus = InstanceStatus.UP) -> InstanceInfo:
    return InstanceInfo(f"id{n}", app, f"h{n}", "10.0.0.1", status=status)


def test_instances_are_immutable_and_slotted() -> None:
    info = make(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.status = InstanceStatus.DOWN  # type: ignore[misc]
    assert not hasattr(info, "__dict__")
    with pytest.raises(TypeError):
        info.metadata["x"] = "y"  # type: ignore[index]


def test_metadata_is_copied_so_callers_cannot_change_it_afterwards() -> None:
    source = {"zone": "a"}
    info = InstanceInfo("i", "A", "h", "1.1.1.1", metadata=source)
    source["zone"] = "b"
    assert info.metadata["zone"] == "a"
    assert info.evolve(status=InstanceStatus.DOWN).metadata["zone"] == "a"


def test_status_parse_is_case_insensitive_and_names_bad_values() -> None:
    assert InstanceStatus.parse("out_of_service") is InstanceStatus.OUT_OF_SERVICE
    with pytest.raises(ValueError, match="'SIDEWAYS'"):
        InstanceStatus.parse("SIDEWAYS")


def test_vip_names_split_on_commas() -> None:
    info = make(1).evolve(vip_address=" a , b,,c ", secure_vip_address=None)
    assert info.vip_names() == ("a", "b", "c")
    assert info.secure_vip_names() == ()


def test_hashcode_sorts_statuses_by_name() -> None:
    instances = [
        make(1),
        make(2, status=InstanceStatus.DOWN),
        make(3),
        make(4, status=(InstanceStatus.OUT_OF_SERVICE)),
    ]
    assert apps_hashcode(instances) == "DOWN_1_OUT_OF_SERVICE_1_UP_2_"
    assert apps_hashcode([]) == ""


def test_applications_group_sort_and_look_up_case_insensitively() -> None:
    apps = Applications.of([make(2, "B"), make(1, "A"), make(0, "B")], version="7")
    assert [a.name for a in apps] == ["A", "B"]
    b = apps.get("b")
    assert b is not None
    assert [i.instance_id for i in b] == ["id0", "id2"]
    assert b.get("id2") is not None
    assert apps.version == "7"
    assert apps.apps_hashcode == "UP_3_"
    assert Applications.of([make(1)], hashcode="DOWN_9_").apps_hashcode == "DOWN_9_"


def test_amazon_data_center_has_its_class() -> None:
    assert DataCenterInfo("Amazon", {"instance-id": "i-1"}).class_name.endswith("AmazonInfo")
    assert DataCenterInfo().class_name.endswith("DefaultDataCenterInfo")


def test_evolve_is_dataclasses_replace() -> None:
    info = make(1)
    for changes in (
        {},
        {"status": InstanceStatus.DOWN, "last_dirty_timestamp": 7},
        {"lease_info": info.lease_info.evolve(eviction_timestamp=9, duration_secs=5)},
    ):
        assert info.evolve(**changes) == dataclasses.replace(info, **changes)
    assert info.lease_info.evolve(duration_secs=5) == dataclasses.replace(
        info.lease_info, duration_secs=5
    )
    # __post_init__ runs on the copy: metadata handed over is frozen, as a new instance's.
    source = {"zone": "a"}
    changed = info.evolve(metadata=source)
    source["zone"] = "b"
    assert changed.metadata["zone"] == "a"
    with pytest.raises(TypeError):
        changed.metadata["x"] = "y"  # type: ignore[index]


def test_a_copier_is_dataclasses_replace_with_the_changed_fields_positional() -> None:
    info = make(1)
    lease = info.lease_info.evolve(eviction_timestamp=9)
    deleted = copier(InstanceInfo, "action_type", "last_updated_timestamp", "lease_info")
    assert deleted(info, ActionType.DELETED, 7, lease) == dataclasses.replace(
        info, action_type=ActionType.DELETED, last_updated_timestamp=7, lease_info=lease
    )
    assert copier(LeaseInfo, "duration_secs")(lease, 5) == dataclasses.replace(
        lease, duration_secs=5
    )
    assert copier(InstanceInfo)(info) == info
    # Metadata handed over is frozen as a new instance's (__post_init__ runs for it).
    source = {"zone": "a"}
    changed = copier(InstanceInfo, "metadata")(info, source)
    source["zone"] = "b"
    assert changed.metadata == {"zone": "a"}
    with pytest.raises(TypeError):
        changed.metadata["x"] = "y"  # type: ignore[index]


def test_a_copier_refuses_a_field_the_class_lacks() -> None:
    with pytest.raises(TypeError, match="InstanceInfo has no field colour, shade"):
        copier(InstanceInfo, "status", "shade", "colour")


def test_evolve_refuses_a_field_the_class_lacks() -> None:
    with pytest.raises(TypeError, match="no field colour"):
        make(1).evolve(colour="red")
    with pytest.raises(TypeError, match="LeaseInfo has no field zone"):
        make(1).lease_info.evolve(zone="a")
