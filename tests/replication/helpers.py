"""Instances, registries and peer answers shared by the replication tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from eureka_embed.client.transport import HttpResponse
from eureka_embed.model import InstanceInfo, InstanceStatus, LeaseInfo
from eureka_embed.replication.wire import ItemResult, encode_results


def instance(
    n: int = 1,
    *,
    app: str = "ORDERS",
    ldt: int = 1_000,
    status: InstanceStatus = InstanceStatus.UP,
    port: int = 8080,
    duration_secs: int = 90,
) -> InstanceInfo:
    return InstanceInfo(
        instance_id=f"host{n}:{app.lower()}:{port}",
        app=app,
        host_name=f"host{n}",
        ip_addr=f"10.0.0.{n}",
        status=status,
        vip_address=app.lower(),
        last_dirty_timestamp=ldt,
        lease_info=LeaseInfo(duration_secs=duration_secs),
    )


def answer(*results: ItemResult | int) -> HttpResponse:
    """A 200 batch answer with one result per item (a bare int is a status without entity)."""
    items = [r if isinstance(r, ItemResult) else ItemResult(r) for r in results]
    return HttpResponse(200, {"content-type": "application/json"}, encode_results(items))


def batch_json(body: bytes | None) -> list[dict[str, Any]]:
    assert body is not None
    items: list[dict[str, Any]] = orjson.loads(body)["replicationList"]
    return items


def actions(body: bytes | None) -> Sequence[tuple[str, str]]:
    """(action, id) of each item of a batch request body."""
    return [(item["action"], item["id"]) for item in batch_json(body)]
