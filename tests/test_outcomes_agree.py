"""The same scenarios in-process and over HTTP get the same answers.

Both ways in answer through one table (eureka_embed.http.outcomes): the in-process client, the
HTTP endpoints (the real REST client against a live waitress server) and the replication
receiver (per-item statuses of a batch posted over HTTP, against the in-process client with
``replication=True``). Each scenario runs on two registries in the same state on one clock;
status, reason text, Retry-After and the entity's identity must agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import urllib3

from eureka_embed.client import InProcessEurekaClient
from eureka_embed.client.contract import EurekaHttpClient
from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.client.response import EurekaResponse
from eureka_embed.client.rest import RestEurekaHttpClient
from eureka_embed.client.urllib3_transport import Urllib3Transport
from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.errors import StorageUnavailable
from eureka_embed.events import WriteAction
from eureka_embed.model import Application, Applications, InstanceInfo, InstanceStatus
from eureka_embed.registry import Registry
from eureka_embed.replication.wire import ReplicationItem, encode_batch
from eureka_embed.server import EurekaServer
from eureka_embed.storage import MemoryStore
from eureka_embed.testing import live_server
from tests.client.support import instance

ME = instance(1)
OTHER = instance(2, app="BILLING")


class SwitchableStore(MemoryStore):
    """A memory store that can be made unreachable."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise StorageUnavailable("database connection refused")

    def get(self, *args: Any, **kwargs: Any) -> Any:
        self._check()
        return super().get(*args, **kwargs)

    def find(self, *args: Any, **kwargs: Any) -> Any:
        self._check()
        return super().find(*args, **kwargs)

    def snapshot(self) -> Any:
        self._check()
        return super().snapshot()

    def mutate(self, *args: Any, **kwargs: Any) -> Any:
        self._check()
        return super().mutate(*args, **kwargs)

    def remove_each(self, *args: Any, **kwargs: Any) -> Any:  # a cancel, an eviction
        self._check()
        return super().remove_each(*args, **kwargs)


@dataclass
class Side:
    registry: Registry
    store: SwitchableStore
    client: EurekaHttpClient


@dataclass
class Sides:
    local: Side
    remote: Side
    server: EurekaServer

    def both(self) -> tuple[Side, Side]:
        return self.local, self.remote


def _registry(clock: ManualClock, *, delta: bool) -> tuple[Registry, SwitchableStore]:
    store = SwitchableStore()
    config = RegistryConfig(self_preservation=False, delta_enabled=delta)
    return Registry(store, config, clock), store


@pytest.fixture(params=[True, False], ids=["delta-on", "delta-off"])
def sides(request: pytest.FixtureRequest) -> Iterator[Sides]:
    clock = ManualClock()
    local_registry, local_store = _registry(clock, delta=request.param)
    remote_registry, remote_store = _registry(clock, delta=request.param)
    try:
        with live_server(remote_registry, maintenance=False) as server:
            transport = Urllib3Transport(read_timeout_s=30)
            rest = RestEurekaHttpClient(EurekaEndpoint(server.base_url), transport)
            try:
                yield Sides(
                    Side(local_registry, local_store, InProcessEurekaClient(local_registry)),
                    Side(remote_registry, remote_store, rest),
                    server,
                )
            finally:
                rest.shutdown()
    finally:
        local_registry.close()
        remote_registry.close()


def _identity(entity: object) -> object:
    """What must agree about an entity: which instances it holds, and their timestamps."""
    if entity is None:
        return None
    if isinstance(entity, InstanceInfo):
        return (entity.instance_id, entity.status, entity.last_dirty_timestamp)
    if isinstance(entity, Applications):
        return sorted(_identity(one) for one in entity.instances())  # type: ignore[type-var]
    assert isinstance(entity, Application)
    return sorted(_identity(one) for one in entity.instances)  # type: ignore[type-var]


def _seen(answer: EurekaResponse[Any]) -> tuple[object, ...]:
    return (
        answer.status,
        answer.text.strip(),
        answer.headers.get("retry-after"),
        _identity(answer.entity),
    )


Call = Callable[[EurekaHttpClient], EurekaResponse[Any]]

SCENARIOS: dict[str, Call] = {
    "register": lambda c: c.register(OTHER),
    "heartbeat": lambda c: c.send_heartbeat("ORDERS", ME.instance_id, instance=ME),
    "heartbeat-unknown": lambda c: c.send_heartbeat("ORDERS", "nope"),
    "heartbeat-newer-than-held": lambda c: c.send_heartbeat(
        "ORDERS", ME.instance_id, last_dirty_timestamp=ME.last_dirty_timestamp + 5
    ),
    "cancel": lambda c: c.cancel("ORDERS", ME.instance_id),
    "cancel-unknown": lambda c: c.cancel("ORDERS", "nope"),
    "status": lambda c: c.status_update("ORDERS", ME.instance_id, InstanceStatus.OUT_OF_SERVICE),
    "status-unknown": lambda c: c.status_update("ORDERS", "nope", InstanceStatus.DOWN),
    "delete-override": lambda c: c.delete_status_override("ORDERS", ME.instance_id),
    "delete-override-unknown": lambda c: c.delete_status_override("ORDERS", "nope"),
    "apps": lambda c: c.get_applications(),
    "delta": lambda c: c.get_delta(),
    "app": lambda c: c.get_application("ORDERS"),
    "app-unknown": lambda c: c.get_application("NOPE"),
    "instance": lambda c: c.get_instance("ORDERS", ME.instance_id),
    "instance-unknown": lambda c: c.get_instance("ORDERS", "nope"),
    "instance-by-id": lambda c: c.get_instance_by_id(ME.instance_id),
    "instance-by-id-unknown": lambda c: c.get_instance_by_id("nope"),
    "vip": lambda c: c.get_vip("orders"),
}


@pytest.mark.parametrize("store_down", [False, True], ids=["store-up", "store-down"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_in_process_client_answers_as_the_http_server_does(
    sides: Sides, scenario: str, store_down: bool
) -> None:
    seen = []
    for side in sides.both():
        side.registry.register(ME)
        side.store.down = store_down
        seen.append(_seen(SCENARIOS[scenario](side.client)))

    local, remote = seen
    assert local == remote
    assert local[0] != 500  # every scenario is an answer the table knows, not a failure


def _replicated_heartbeat(ldt: int) -> ReplicationItem:
    return ReplicationItem(WriteAction.HEARTBEAT, "ORDERS", ME.instance_id, ldt)


REPLICATED: dict[str, tuple[ReplicationItem, Call]] = {
    "register": (ReplicationItem.register(OTHER), lambda c: c.register(OTHER)),
    "heartbeat": (
        _replicated_heartbeat(ME.last_dirty_timestamp),
        lambda c: c.send_heartbeat("ORDERS", ME.instance_id, instance=ME),
    ),
    "heartbeat-older-than-held": (
        _replicated_heartbeat(ME.last_dirty_timestamp - 5),
        lambda c: c.send_heartbeat(
            "ORDERS", ME.instance_id, last_dirty_timestamp=ME.last_dirty_timestamp - 5
        ),
    ),
    "heartbeat-newer-than-held": (
        _replicated_heartbeat(ME.last_dirty_timestamp + 5),
        lambda c: c.send_heartbeat(
            "ORDERS", ME.instance_id, last_dirty_timestamp=ME.last_dirty_timestamp + 5
        ),
    ),
    "heartbeat-unknown": (
        ReplicationItem(WriteAction.HEARTBEAT, "ORDERS", "nope", 1),
        lambda c: c.send_heartbeat("ORDERS", "nope", last_dirty_timestamp=1),
    ),
    "cancel": (
        ReplicationItem(WriteAction.CANCEL, "ORDERS", ME.instance_id),
        lambda c: c.cancel("ORDERS", ME.instance_id),
    ),
    "cancel-unknown": (
        ReplicationItem(WriteAction.CANCEL, "ORDERS", "nope"),
        lambda c: c.cancel("ORDERS", "nope"),
    ),
    "status": (
        ReplicationItem(
            WriteAction.STATUS_UPDATE, "ORDERS", ME.instance_id, None, InstanceStatus.DOWN
        ),
        lambda c: c.status_update("ORDERS", ME.instance_id, InstanceStatus.DOWN),
    ),
    "status-unknown": (
        ReplicationItem(WriteAction.STATUS_UPDATE, "ORDERS", "nope", None, InstanceStatus.DOWN),
        lambda c: c.status_update("ORDERS", "nope", InstanceStatus.DOWN),
    ),
    "delete-override": (
        ReplicationItem(WriteAction.DELETE_STATUS_OVERRIDE, "ORDERS", ME.instance_id),
        lambda c: c.delete_status_override("ORDERS", ME.instance_id),
    ),
}

#: A replicated register is answered 200 (as Eureka's receiver does), a direct one 204.
_BATCH_STATUS = {204: 200}


@pytest.mark.parametrize("store_down", [False, True], ids=["store-up", "store-down"])
@pytest.mark.parametrize("scenario", list(REPLICATED))
def test_replicated_items_get_the_status_a_replicated_call_gets_in_process(
    sides: Sides, scenario: str, store_down: bool
) -> None:
    item, call = REPLICATED[scenario]
    for side in sides.both():
        side.registry.register(ME, replication=True)
        side.store.down = store_down

    local = call(InProcessEurekaClient(sides.local.registry, replication=True))
    answer = urllib3.request(
        "POST",
        f"{sides.server.base_url}peerreplication/batch/",
        body=encode_batch([item]),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )

    assert answer.status == 200
    (result,) = orjson.loads(answer.data)["responseList"]
    assert result["statusCode"] == _BATCH_STATUS.get(local.status, local.status)
    if local.status == 409:
        held = result["responseEntity"]
        assert isinstance(local.entity, InstanceInfo)
        assert (held["instanceId"], int(held["lastDirtyTimestamp"])) == (
            local.entity.instance_id,
            local.entity.last_dirty_timestamp,
        )
    else:
        assert "responseEntity" not in result


def test_an_invalid_registration_is_the_same_400_both_ways(sides: Sides) -> None:
    bad = instance(3, host_name="")

    local, remote = (_seen(side.client.register(bad)) for side in sides.both())

    assert local[0] == remote[0] == 400
    assert local == remote
