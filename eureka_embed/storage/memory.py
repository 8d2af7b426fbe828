"""MemoryStore: the Store contract in process memory, guarded by one lock."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from eureka_embed.storage.base import Change, LeaseRecord, Snapshot, Store, Write
from eureka_embed.storage.record_index import RecordIndex

__all__ = ["MemoryStore"]

T = TypeVar("T")


class MemoryStore(Store):
    """Leases in dictionaries, the change log in a deque. Nothing survives the process.

    One lock serialises writes, which makes every read-modify-write atomic. Single-key reads
    take no lock: a dict lookup is atomic under the interpreter, and records are replaced, never
    edited (but for ``last_renewal_ms``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index = RecordIndex()
        self._changes: deque[Change] = deque()
        self._sequence = 0

    def get(self, app: str, instance_id: str) -> LeaseRecord | None:
        return self._index.get(app, instance_id)

    def find(self, instance_id: str) -> list[LeaseRecord]:
        with self._lock:
            return self._index.find(instance_id)

    def records_of(self, app: str) -> list[LeaseRecord]:
        with self._lock:
            return self._index.records_of(app)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(self._sequence, self._index.records())

    def count(self) -> int:
        return self._index.count

    def mutate(
        self, app: str, instance_id: str, fn: Callable[[LeaseRecord | None], tuple[Write | None, T]]
    ) -> T:
        with self._lock:
            current = self.get(app, instance_id)
            write, result = fn(current)
            if write is not None:
                self._apply(app, instance_id, current, write)
            return result

    def _apply(self, app: str, instance_id: str, current: LeaseRecord | None, write: Write) -> None:
        if write.record is not None:
            self._index.put(write.record)
        elif current is not None:
            self._index.remove(app, instance_id)
        if write.change is not None:
            instance = write.logged_instance(current)
            self._sequence += 1
            self._changes.append(Change(self._sequence, write.change_ms, write.change, instance))

    def renew(self, app: str, instance_id: str, now_ms: int) -> LeaseRecord | None:
        with self._lock:
            record = self._index.get(app, instance_id)
            if record is not None and now_ms > record.last_renewal_ms:
                record.last_renewal_ms = now_ms
            return record

    def latest_sequence(self) -> int:
        return self._sequence

    def changes_since(self, since_ms: int) -> list[Change]:
        with self._lock:
            return [c for c in self._changes if c.timestamp_ms >= since_ms]

    def changes_after(self, sequence: int) -> list[Change]:
        with self._lock:
            return [c for c in self._changes if c.sequence > sequence]

    def prune_changes(self, before_ms: int) -> int:
        with self._lock:
            dropped = 0
            while self._changes and self._changes[0].timestamp_ms < before_ms:
                self._changes.popleft()
                dropped += 1
            return dropped
