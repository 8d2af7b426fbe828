"""Applying a batch a peer sent: every item as a replicated write, one result per item.

Items are applied in order with ``replication=True``, so they are never forwarded again (that
is what keeps a full mesh of peers free of loops). An item that cannot be applied gets its own
status (400 unreadable, 404 unknown instance, 503 store unavailable, 500 unexpected: the table
of :mod:`eureka_embed.http.outcomes`, as the HTTP endpoints answer) and the rest of the batch
goes on, as in Eureka's PeerReplicationResource.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Final

from eureka_embed.errors import InstanceNotFound, InvalidInput, StorageUnavailable
from eureka_embed.events import WriteAction
from eureka_embed.http.outcomes import DONE, error_outcome, renew_outcome
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

_OK: Final = ItemResult(DONE)  # a replicated register too: Eureka's receiver answers 200


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
            return ItemResult(error_outcome(InvalidInput(item.reason)).status)
        try:
            return self._dispatch(item)
        except Exception as exc:
            self._log_failure(item, exc)
            return ItemResult(error_outcome(exc).status)

    @staticmethod
    def _log_failure(item: ReplicationItem, exc: Exception) -> None:
        if isinstance(exc, InvalidInput):
            log.warning(
                "refused replicated %s of %s/%s: %s",
                item.action,
                item.app,
                item.instance_id,
                exc.reason,
            )
        elif isinstance(exc, StorageUnavailable):
            log.warning("store unavailable for replicated %s: %s", item.action, exc.reason)
        elif not isinstance(exc, InstanceNotFound):
            log.error(
                "replicated %s of %s/%s failed",
                item.action,
                item.app,
                item.instance_id,
                exc_info=exc,
            )

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
            outcome = renew_outcome(result.outcome, item.app, item.instance_id)
            # A conflict answers with the newer instance held here: the peer adopts it.
            conflict = result.outcome is RenewOutcome.CONFLICT
            return ItemResult(outcome.status, result.instance if conflict else None)
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
