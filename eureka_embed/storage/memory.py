"""MemoryStore: the Store contract in process memory, guarded by one lock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from eureka_embed.model import ActionType, InstanceInfo, copier
from eureka_embed.storage.base import Change, LeaseRecord, Write
from eureka_embed.storage.record_index import IndexedStore

__all__ = ["MemoryStore"]

T = TypeVar("T")

#: Writes of one :meth:`MemoryStore.mutate_each` (removals of one ``remove_each``) done per hold
#: of the lock: a heartbeat waits for one slice (a millisecond or two), not for a whole eviction
#: pass of thousands.
_SLICE = 256

_DELETED = ActionType.DELETED
_next_change = copier(Change, "sequence", "instance")


class MemoryStore(IndexedStore):
    """Leases in dictionaries, the change log in a deque. Nothing survives the process.

    One lock serialises writes, which makes every read-modify-write atomic; the reads are
    :class:`~eureka_embed.storage.record_index.IndexedStore`'s.
    """

    def mutate(
        self, app: str, instance_id: str, fn: Callable[[LeaseRecord | None], tuple[Write | None, T]]
    ) -> T:
        with self._lock:
            current = self._index.get(app, instance_id)
            write, result = fn(current)
            logged = write is not None and self._apply(app, instance_id, current, write)
        if logged:
            self._notify_change()
        return result

    def mutate_each(
        self,
        keys: Sequence[tuple[str, str]],
        fn: Callable[[LeaseRecord | None], tuple[Write | None, T]],
    ) -> list[T]:
        results: list[T] = []
        index, apply = self._index, self._apply
        for start in range(0, len(keys), _SLICE):
            logged = False
            with self._lock:
                for app, instance_id in keys[start : start + _SLICE]:
                    current = index.get(app, instance_id)
                    write, result = fn(current)
                    if write is not None and apply(app, instance_id, current, write):
                        logged = True
                    results.append(result)
            if logged:  # one wake-up per slice, not per write
                self._notify_change()
        return results

    def remove_each(
        self,
        keys: Sequence[tuple[str, str]],
        fn: Callable[[LeaseRecord], InstanceInfo | None],
        change_ms: int,
    ) -> list[InstanceInfo]:
        removed: list[InstanceInfo] = []
        index = self._index
        for start in range(0, len(keys), _SLICE):
            gone: list[InstanceInfo] = []
            with self._lock:
                try:
                    index.remove_each(keys[start : start + _SLICE], fn, gone)
                finally:  # what was removed is logged, whatever fn raised
                    self._log_deleted(gone, change_ms)
            if gone:  # one wake-up per slice, not per removal
                removed += gone
                self._notify_change()
        return removed

    def _log_deleted(self, gone: list[InstanceInfo], change_ms: int) -> None:
        """Log a DELETED change of each of ``gone`` (caller holds ``_lock``)."""
        if not gone:
            return
        sequence = self._sequence
        # Copies of one change, told their sequence and instance: cheaper than a frozen
        # dataclass's __init__, thousands of times over.
        template = Change(sequence, change_ms, _DELETED, gone[0])
        self._append_each(
            [_next_change(template, sequence + n, instance) for n, instance in enumerate(gone, 1)]
        )

    def _apply(self, app: str, instance_id: str, current: LeaseRecord | None, write: Write) -> bool:
        """Apply ``write``; whether it logged a change."""
        if write.record is not None:
            self._index.put(write.record)
        elif current is not None:
            self._index.remove(app, instance_id)
        if write.change is None:
            return False
        instance = write.logged_instance(current)
        self._append(Change(self._sequence + 1, write.change_ms, write.change, instance))
        return True

    def renew(self, app: str, instance_id: str, now_ms: int) -> LeaseRecord | None:
        with self._lock:
            index = self._index
            record = index.get(app, instance_id)
            if record is not None:
                index.renew(record, now_ms)
            return record

    def prune_changes(self, before_ms: int) -> int:
        return self._prune_log(before_ms)
