"""The peer-replication batch format (SPEC section 5), as Netflix Eureka peers spell it.

Request, ``POST {peer}peerreplication/batch/``::

    {"replicationList": [{"appName": "A", "id": "i1", "lastDirtyTimestamp": 1712957014863,
                          "status": "UP", "overriddenStatus": "OUT_OF_SERVICE",
                          "instanceInfo": {...}, "action": "Register"}, ...]}

``null`` fields are omitted; ``instanceInfo`` is the unwrapped instance and only travels with a
Register. Response, one result per item and in the same order::

    {"responseList": [{"statusCode": 200}, {"statusCode": 409, "responseEntity": {...}}]}

Decoding a request is per item: one unreadable item becomes an :class:`InvalidItem` (answered
400 on its own) instead of failing the whole batch. Only a body that is not a batch at all
raises :class:`~eureka_embed.errors.DecodeError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import orjson

from eureka_embed.codec import instance_from_dict, instance_to_dict
from eureka_embed.codec.readers import read_instance, read_int, read_status, read_text
from eureka_embed.errors import DecodeError
from eureka_embed.events import RegistryEvent, WriteAction
from eureka_embed.model import InstanceInfo, InstanceStatus

__all__ = [
    "BATCH_PATH",
    "InvalidItem",
    "ItemResult",
    "ReplicationItem",
    "asg_status_path",
    "decode_batch",
    "decode_results",
    "encode_batch",
    "encode_results",
]

#: Below a peer's service URL (which ends with ``/``).
BATCH_PATH: Final = "peerreplication/batch/"


def asg_status_path(asg_name: str) -> str:
    """Below a peer's service URL: where Eureka's peers send an ASG's status (not batched)."""
    return f"asg/{quote(asg_name, safe='')}/status"


_ACTIONS: Final = {action.value.lower(): action for action in WriteAction}
_ACTION_CHOICES: Final = ", ".join(action.value for action in WriteAction)


@dataclass(frozen=True, slots=True)
class ReplicationItem:
    """One replicated write. ``instance`` travels with Register only."""

    action: WriteAction
    app: str
    instance_id: str
    last_dirty_timestamp: int | None = None
    status: InstanceStatus | None = None
    overridden_status: InstanceStatus | None = None
    instance: InstanceInfo | None = None

    @classmethod
    def from_event(cls, event: RegistryEvent) -> ReplicationItem:
        """The item that replicates ``event``, filled in as Eureka's peers fill it in."""
        action = event.action
        if action is WriteAction.CANCEL:
            return cls(action, event.app, event.instance_id)
        if action is WriteAction.REGISTER:
            return cls.register(event.instance)
        instance = event.instance
        if action is WriteAction.HEARTBEAT:
            status = instance.status
            overridden = _override_of(instance)
        else:
            # A status write carries the status it set; Eureka sends no override with it.
            status = event.status if event.status is not None else instance.status
            overridden = None
        return cls(
            action, event.app, event.instance_id, instance.last_dirty_timestamp, status, overridden
        )

    @classmethod
    def register(cls, instance: InstanceInfo) -> ReplicationItem:
        """A Register carrying the whole ``instance``."""
        return cls(
            WriteAction.REGISTER,
            instance.app,
            instance.instance_id,
            instance.last_dirty_timestamp,
            instance.status,
            _override_of(instance),
            instance,
        )

    @property
    def key(self) -> tuple[str, str, WriteAction]:
        """What a newer task replaces: one pending task per instance and action."""
        return (self.app, self.instance_id, self.action)

    def to_dict(self) -> dict[str, Any]:
        tree: dict[str, Any] = {"appName": self.app, "id": self.instance_id}
        if self.last_dirty_timestamp is not None:
            tree["lastDirtyTimestamp"] = self.last_dirty_timestamp
        if self.status is not None:
            tree["status"] = self.status.value
        if self.overridden_status is not None:
            tree["overriddenStatus"] = self.overridden_status.value
        if self.instance is not None and self.action is WriteAction.REGISTER:
            tree["instanceInfo"] = instance_to_dict(self.instance)
        tree["action"] = self.action.value
        return tree


@dataclass(frozen=True, slots=True)
class InvalidItem:
    """A batch item that cannot be applied; ``reason`` says why (for the receiver's log)."""

    reason: str
    #: What the item named, as far as it could be read: for logs and counters.
    action: WriteAction | None = None


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The outcome of one item: an HTTP status, and for a 409 the receiver's newer instance."""

    status_code: int
    entity: InstanceInfo | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300

    def to_dict(self) -> dict[str, Any]:
        tree: dict[str, Any] = {"statusCode": self.status_code}
        if self.entity is not None:
            tree["responseEntity"] = instance_to_dict(self.entity)
        return tree


def _override_of(instance: InstanceInfo) -> InstanceStatus | None:
    """The instance's status override; UNKNOWN is how the model says "none"."""
    overridden = instance.overridden_status
    return None if overridden is InstanceStatus.UNKNOWN else overridden


def encode_batch(items: Sequence[ReplicationItem]) -> bytes:
    return orjson.dumps({"replicationList": [item.to_dict() for item in items]})


def encode_results(results: Sequence[ItemResult]) -> bytes:
    return orjson.dumps({"responseList": [result.to_dict() for result in results]})


def _top_list(body: bytes, key: str) -> list[object]:
    try:
        tree = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"body is not valid JSON: {exc}") from None
    if not isinstance(tree, dict):
        raise DecodeError(f'body must be a JSON object with a "{key}" list')
    items = tree.get(key)
    if items is None:
        raise DecodeError(f'body must be a JSON object with a "{key}" list; it has none')
    if not isinstance(items, list):
        raise DecodeError(f'"{key}" must be a list, got {type(items).__name__}')
    return items


def decode_batch(body: bytes, *, now_ms: int) -> list[ReplicationItem | InvalidItem]:
    """A replication request; ``now_ms`` stands in for a Register instance's missing timestamp.

    :raises DecodeError: the body is not a batch (not JSON, no ``replicationList`` list).
    """
    return [
        _decode_item(raw, f"replicationList[{index}]", now_ms)
        for index, raw in enumerate(_top_list(body, "replicationList"))
    ]


def _decode_item(raw: object, path: str, now_ms: int) -> ReplicationItem | InvalidItem:
    if not isinstance(raw, Mapping):
        return InvalidItem(f"{path} must be an object")
    action: WriteAction | None = None
    try:
        action_text = read_text(raw.get("action"), f"{path}.action")
        if not action_text or not action_text.strip():
            return InvalidItem(f"{path}.action is missing")
        action = _ACTIONS.get(action_text.strip().lower())
        if action is None:
            return InvalidItem(
                f"{path}.action {action_text[:40]!r} is not one of {_ACTION_CHOICES}"
            )
        app = read_text(raw.get("appName"), f"{path}.appName")
        instance_id = read_text(raw.get("id"), f"{path}.id")
        instance = None
        if action is WriteAction.REGISTER:
            info = raw.get("instanceInfo")
            if info is None:
                return InvalidItem(f"{path}.instanceInfo is missing (a Register needs it)", action)
            if isinstance(info, Mapping) and set(info) == {"instance"}:
                info = info["instance"]  # tolerate the wrapped form
            instance = read_instance(info, f"{path}.instanceInfo", now_ms=now_ms, registration=True)
            app = app or instance.app
            instance_id = instance_id or instance.instance_id
            if instance.app.upper() != app.strip().upper():
                return InvalidItem(
                    f"{path}.instanceInfo.app {instance.app} does not match appName {app}", action
                )
            if instance.instance_id != instance_id:
                return InvalidItem(
                    f"{path}.instanceInfo.instanceId {instance.instance_id!r} does not match "
                    f"id {instance_id!r}",
                    action,
                )
        if not app or not app.strip():
            return InvalidItem(f"{path}.appName is missing", action)
        if not instance_id or not instance_id.strip():
            return InvalidItem(f"{path}.id is missing", action)
        return ReplicationItem(
            action=action,
            app=app.strip().upper(),
            instance_id=instance_id,
            last_dirty_timestamp=read_int(
                raw.get("lastDirtyTimestamp"), f"{path}.lastDirtyTimestamp", 0
            ),
            status=read_status(raw.get("status"), f"{path}.status"),
            overridden_status=read_status(raw.get("overriddenStatus"), f"{path}.overriddenStatus"),
            instance=instance,
        )
    except DecodeError as exc:
        return InvalidItem(exc.reason, action)


def decode_results(body: bytes, *, now_ms: int) -> list[ItemResult]:
    """A replication response. An unreadable ``responseEntity`` is left out, not fatal.

    :raises DecodeError: the body is not a response list, or an item has no status code.
    """
    results = []
    for index, raw in enumerate(_top_list(body, "responseList")):
        path = f"responseList[{index}]"
        if not isinstance(raw, Mapping):
            raise DecodeError(f"{path} must be an object")
        status_code = read_int(raw.get("statusCode"), f"{path}.statusCode", 100, 599)
        if status_code is None:
            raise DecodeError(f"{path}.statusCode is missing")
        entity = None
        if raw.get("responseEntity") is not None:
            try:
                entity = instance_from_dict(
                    raw["responseEntity"], now_ms=now_ms, registration=False
                )
            except DecodeError:
                entity = None  # the status still counts; the caller sees no entity to adopt
        results.append(ItemResult(status_code, entity))
    return results
