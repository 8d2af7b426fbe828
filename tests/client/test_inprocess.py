"""The in-process client answers as the HTTP server would, straight from a Registry."""

from __future__ import annotations

from eureka_embed.client import InProcessEurekaClient
from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.model import InstanceStatus
from eureka_embed.registry import Registry
from tests.client.support import instance


def test_register_is_204_and_the_instance_is_readable(registry: Registry) -> None:
    client = InProcessEurekaClient(registry)
    me = instance(1)

    assert client.register(me).status == 204

    assert client.get_instance("orders", me.instance_id).require_entity().host_name == "host1"
    assert client.get_instance_by_id(me.instance_id).status == 200
    assert [i.instance_id for i in client.get_application("ORDERS").require_entity()] == [
        me.instance_id
    ]
    assert client.get_applications().require_entity().apps_hashcode == "UP_1_"
    assert client.get_vip("orders").require_entity().apps_hashcode == "UP_1_"
    assert client.get_secure_vip("orders").require_entity().apps_hashcode == ""


def test_unknown_instances_and_apps_are_404(registry: Registry) -> None:
    client = InProcessEurekaClient(registry)

    assert client.send_heartbeat("ORDERS", "nope").status == 404
    assert client.cancel("ORDERS", "nope").status == 404
    assert client.status_update("ORDERS", "nope", InstanceStatus.DOWN).status == 404
    assert client.delete_status_override("ORDERS", "nope").status == 404
    assert client.get_application("ORDERS").status == 404
    assert client.get_instance("ORDERS", "nope").entity is None
    assert client.get_instance_by_id("nope").status == 404


def test_heartbeat_cancel_and_status_override(registry: Registry) -> None:
    client = InProcessEurekaClient(registry)
    me = instance(1)
    client.register(me)

    assert client.send_heartbeat("ORDERS", me.instance_id, instance=me).status == 200
    assert client.status_update("ORDERS", me.instance_id, InstanceStatus.OUT_OF_SERVICE).ok
    stored = client.get_instance("ORDERS", me.instance_id).require_entity()
    assert stored.status is InstanceStatus.OUT_OF_SERVICE
    assert client.delete_status_override("ORDERS", me.instance_id, status=InstanceStatus.UP).ok
    assert client.cancel("ORDERS", me.instance_id).status == 200
    assert client.get_instance("ORDERS", me.instance_id).status == 404


def test_a_heartbeat_newer_than_the_server_copy_is_404(registry: Registry) -> None:
    client = InProcessEurekaClient(registry)
    me = instance(1)
    client.register(me)

    newer = me.evolve(last_dirty_timestamp=me.last_dirty_timestamp + 1)

    assert client.send_heartbeat("ORDERS", me.instance_id, instance=newer).status == 404


def test_a_replicated_heartbeat_older_than_the_server_copy_is_409_with_it(
    registry: Registry,
) -> None:
    InProcessEurekaClient(registry).register(instance(1))
    peer = InProcessEurekaClient(registry, replication=True)

    response = peer.send_heartbeat(
        "ORDERS", instance(1).instance_id, last_dirty_timestamp=1_600_000_000_000
    )

    assert response.status == 409
    assert response.require_entity().last_dirty_timestamp == instance(1).last_dirty_timestamp


def test_a_registration_missing_a_required_field_is_400_with_the_reason(
    registry: Registry,
) -> None:
    response = InProcessEurekaClient(registry).register(instance(1, host_name=""))

    assert (response.status, response.text) == (400, "instance.hostName is missing")
    assert registry.get_applications().applications == ()


def test_delta_is_403_when_the_registry_serves_none(clock: ManualClock) -> None:
    registry = Registry(config=RegistryConfig(delta_enabled=False), clock=clock)

    assert InProcessEurekaClient(registry).get_delta().status == 403


def test_delta_carries_recent_changes_and_the_full_hashcode(registry: Registry) -> None:
    client = InProcessEurekaClient(registry)
    client.register(instance(1))
    client.register(instance(2))
    client.cancel("ORDERS", instance(2).instance_id)

    delta = client.get_delta().require_entity()

    assert delta.apps_hashcode == "UP_1_"
    assert {i.instance_id for i in delta.instances()} == {
        instance(1).instance_id,
        instance(2).instance_id,
    }
