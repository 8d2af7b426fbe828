"""Applying a batch a peer sent: every item as a replicated write, one result per item.

Items are applied in order with ``replication=True``, so they are never forwarded again (that
is what keeps a full mesh of peers free of loops). An item that cannot be applied gets its own
status (400 unreadable, 404 unknown instance, 503 store unavailable, 500 unexpected) and the
rest of the batch goes on, as in Eureka's PeerReplicationResource.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Final

from eureka_embed.errors import InstanceNotFound, InvalidInput, StorageUnavailable
from eureka_embed.events import WriteAction
from eureka_embed.registry import Registry, RenewOutcome
from eureka_embed.replication.wire import (
    InvalidItem,
    ItemResult,
    ReplicationItem,
    decode_batch,
    encode_results,
)

__all__ = ["INVALID_ACTION", "ReplicationReceiver"]

log = logging.getLogger(__name__)

#: The counter label of items whose action could not be read.
INVALID_ACTION: Final = "invalid"

_OK: Final = ItemResult(200)
_NOT_FOUND: Final = ItemResult(404)


class ReplicationReceiver:
    """Applies replication batches to ``registry`` and counts what arrived, by action."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        self.batches_received = 0
        self._items: dict[str, int] = {action.value: 0 for action in WriteAction}
        self._items[INVALID_ACTION] = 0

    def items_received(self) -> dict[str, int]:
        """Items received so far by action (``Register``, ...; ``invalid`` when unreadable)."""
        with self._lock:
            return dict(self._items)

    def handle(self, body: bytes) -> bytes:
        """The encoded response to an encoded batch.

        :raises ~eureka_embed.errors.DecodeError: the body is not a batch at all.
        """
        items = decode_batch(body, now_ms=self._registry.clock.now_ms())
        with self._lock:
            self.batches_received += 1
            for item in items:
                label = INVALID_ACTION if isinstance(item, InvalidItem) else item.action.value
                self._items[label] += 1
        return encode_results(self.apply(items))

    def apply(self, items: Sequence[ReplicationItem | InvalidItem]) -> list[ItemResult]:
        return [self._apply_one(item) for item in items]

    def _apply_one(self, item: ReplicationItem | InvalidItem) -> ItemResult:
        if isinstance(item, InvalidItem):
            log.warning("refused a replicated item: %s", item.reason)
            return ItemResult(400)
        try:
            return self._dispatch(item)
        except InvalidInput as exc:
            log.warning(
                "refused replicated %s of %s/%s: %s",
                item.action,
                item.app,
                item.instance_id,
                exc.reason,
            )
            return ItemResult(400)
        except InstanceNotFound:
            return _NOT_FOUND
        except StorageUnavailable as exc:
            log.warning("store unavailable for replicated %s: %s", item.action, exc.reason)
            return ItemResult(503)
        except Exception:
            log.exception("replicated %s of %s/%s failed", item.action, item.app, item.instance_id)
            return ItemResult(500)

    def _dispatch(self, item: ReplicationItem) -> ItemResult:
        registry = self._registry
        action = item.action
        if action is WriteAction.REGISTER:
            assert item.instance is not None  # decode_batch refuses a Register without one
            registry.register(item.instance, replication=True)
            return _OK
        if action is WriteAction.HEARTBEAT:
            result = registry.renew(
                item.app,
                item.instance_id,
                last_dirty_timestamp=item.last_dirty_timestamp,
                overridden_status=item.overridden_status,
                replication=True,
            )
            if result.outcome is RenewOutcome.OK:
                return _OK
            if result.outcome is RenewOutcome.CONFLICT:
                return ItemResult(409, result.instance)
            return _NOT_FOUND
        if action is WriteAction.CANCEL:
            registry.cancel(item.app, item.instance_id, replication=True)
            return _OK
        if action is WriteAction.STATUS_UPDATE:
            if item.status is None:
                raise InvalidInput("a StatusUpdate needs a status")
            registry.update_status(
                item.app,
                item.instance_id,
                item.status,
                last_dirty_timestamp=item.last_dirty_timestamp,
                replication=True,
            )
            return _OK
        registry.delete_status_override(
            item.app,
            item.instance_id,
            item.status,
            last_dirty_timestamp=item.last_dirty_timestamp,
            replication=True,
        )
        return _OK
