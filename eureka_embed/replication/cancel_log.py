"""The cancels a node took part in, remembered for a while so a partition cannot undo them.

A node cut off from its peers misses their cancels (the tasks age out of the queue), and its
peers miss its own. When they meet again, an instance one side holds and the other does not
is either new there or cancelled here; only a record of the cancel tells which. Eureka keeps
none and lets the stale copy live until its lease expires; we keep the cancels (client and
replicated ones, not evictions: every node evicts on its own) for a bounded time and count.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from eureka_embed.clock import Clock
from eureka_embed.events import RegistryEvent, WriteAction
from eureka_embed.model import InstanceInfo

__all__ = ["CancelLog", "CancelRecord"]


@dataclass(frozen=True, slots=True)
class CancelRecord:
    #: The lastDirtyTimestamp of the copy the cancel removed.
    last_dirty_timestamp: int
    #: When it was cancelled here (epoch ms, this node's clock).
    at_ms: int


class CancelLog:
    """Cancels by (APP, instance id), oldest dropped first past ``capacity`` or ``retention_ms``.

    Feed it with :meth:`on_write` (a registry listener): a cancel adds a record, a later
    registration of the same instance removes it (the instance is back, on purpose).
    """

    def __init__(self, clock: Clock, *, retention_ms: int, capacity: int) -> None:
        if retention_ms <= 0 or capacity < 1:
            raise ValueError("retention_ms must be positive and capacity at least 1")
        self._clock = clock
        self.retention_ms = retention_ms
        self.capacity = capacity
        self._records: OrderedDict[tuple[str, str], CancelRecord] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    def on_write(self, event: RegistryEvent) -> None:
        key = (event.app.upper(), event.instance_id)
        if event.action is WriteAction.CANCEL:
            self.record(key, event.instance.last_dirty_timestamp)
        elif event.action is WriteAction.REGISTER:
            with self._lock:
                self._records.pop(key, None)

    def record(self, key: tuple[str, str], last_dirty_timestamp: int) -> None:
        now = self._clock.now_ms()
        with self._lock:
            self._records.pop(key, None)
            self._records[key] = CancelRecord(last_dirty_timestamp, now)
            self._prune(now)

    def get(self, app: str, instance_id: str) -> CancelRecord | None:
        with self._lock:
            self._prune(self._clock.now_ms())
            return self._records.get((app.upper(), instance_id))

    def outranks(self, copy: InstanceInfo) -> bool:
        """Whether a cancel here is newer than ``copy`` (a peer's), so the copy must go.

        Eureka's rule between two versions of an instance, applied to a cancel: the newer
        lastDirtyTimestamp wins. A copy no newer than the one cancelled is what the cancel
        removed; a newer one was changed by its client since (re-registered), and stays.
        """
        record = self.get(copy.app, copy.instance_id)
        return record is not None and copy.last_dirty_timestamp <= record.last_dirty_timestamp

    def _prune(self, now: int) -> None:
        records = self._records
        while len(records) > self.capacity:
            records.popitem(last=False)
        while records:
            oldest = next(iter(records.values()))
            if now - oldest.at_ms <= self.retention_ms:
                break
            records.popitem(last=False)
