"""The in-memory view every store answers reads from: records, the change log, its sequence.

:class:`RecordIndex` holds records by application and instance id, with no locking of its own.
:class:`IndexedStore` is the part of the Store contract that MemoryStore and SqlStore share:
the index, the change log and the sequence number behind one lock, the reads over them, and
the wake-up of :meth:`~eureka_embed.storage.base.Store.wait_for_change`. MemoryStore keeps its
data there; SqlStore keeps its copy of the database there and brings it up to date.
"""

from __future__ import annotations

import threading
from collections import deque

from eureka_embed.storage.base import Change, LeaseRecord, Snapshot, Store
from eureka_embed.storage.view_index import View, ViewIndexes

__all__ = ["IndexedStore", "RecordIndex"]


class RecordIndex:
    __slots__ = ("_apps", "count")

    def __init__(self) -> None:
        self._apps: dict[str, dict[str, LeaseRecord]] = {}
        self.count = 0

    def get(self, app: str, instance_id: str) -> LeaseRecord | None:
        members = self._apps.get(app)
        return None if members is None else members.get(instance_id)

    def find(self, instance_id: str) -> list[LeaseRecord]:
        # A scan over apps, not an index by id: lookups by id alone are rare, and an index
        # would cost every registered instance a few hundred bytes.
        found = (members.get(instance_id) for _, members in sorted(self._apps.items()))
        return [record for record in found if record is not None]

    def records_of(self, app: str) -> list[LeaseRecord]:
        return list(self._apps.get(app, {}).values())

    def records(self) -> list[LeaseRecord]:
        return [record for members in self._apps.values() for record in members.values()]

    def put(self, record: LeaseRecord) -> LeaseRecord | None:
        """Store ``record`` under its app and id; returns the record it replaced."""
        members = self._apps.setdefault(record.app, {})
        previous = members.get(record.instance_id)
        members[record.instance_id] = record
        if previous is None:
            self.count += 1
        return previous

    def remove(self, app: str, instance_id: str) -> LeaseRecord | None:
        members = self._apps.get(app)
        if members is None:
            return None
        removed = members.pop(instance_id, None)
        if removed is not None:
            self.count -= 1
            if not members:
                del self._apps[app]
        return removed


class IndexedStore(Store):
    """Reads from memory for a store whose current state is held in this process.

    Writers change ``_index`` and call :meth:`_append` while holding ``_lock``, so that the
    records, the log and the sequence always move together (a snapshot sees all of a change or
    none of it), then call :meth:`_notify_change` once the lock is released. Single-key reads
    take no lock: a dict lookup is atomic under the interpreter, and records are replaced,
    never edited (but for ``last_renewal_ms``).

    Waiters for a change sleep on a condition of their own, not on ``_lock``: readers and
    writers never queue behind them, and one notification wakes them all.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index = RecordIndex()
        self._log: deque[Change] = deque()
        self._sequence = 0
        self._views = ViewIndexes()
        self._change_signal = threading.Condition(threading.Lock())
        self._waits_over = False

    # ------------------------------------------------------------------ reads

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

    def snapshot_since(self, since_ms: int) -> Snapshot:
        with self._lock:
            return Snapshot(self._sequence, self._index.records(), self._logged_since(since_ms))

    def count(self) -> int:
        return self._index.count

    def latest_sequence(self) -> int:
        return self._sequence

    def view_index(self, view: View) -> int:
        # Under the lock: a reload moves several numbers the index is made of.
        with self._lock:
            return self._views.index(view)

    def changes_since(self, since_ms: int) -> list[Change]:
        with self._lock:
            return self._logged_since(since_ms)

    def _logged_since(self, since_ms: int) -> list[Change]:
        """The logged changes from ``since_ms`` on (caller holds ``_lock``)."""
        return [c for c in self._log if c.timestamp_ms >= since_ms]

    def changes_after(self, sequence: int) -> list[Change]:
        with self._lock:
            return [c for c in self._log if c.sequence > sequence]

    def wait_for_change(self, after_sequence: int, timeout: float) -> int:
        with self._change_signal:
            self._change_signal.wait_for(
                lambda: self._sequence > after_sequence or self._waits_over,
                min(timeout, threading.TIMEOUT_MAX),
            )
        return self._sequence

    # ------------------------------------------------------------------ for writers

    def _append(self, change: Change) -> None:
        """Log ``change`` as the newest one (caller holds ``_lock``)."""
        self._log.append(change)
        self._sequence = change.sequence
        self._views.record(change)

    def _reset_views(self) -> None:
        """Every view's index anew, after records and sequence were replaced wholesale
        (caller holds ``_lock``)."""
        self._views.reset(self._sequence, self._index.records())

    def _notify_change(self) -> None:
        """Wake every waiter (after the sequence moved, with ``_lock`` released)."""
        with self._change_signal:
            self._change_signal.notify_all()

    def _prune_log(self, before_ms: int) -> int:
        with self._lock:
            dropped = 0
            while self._log and self._log[0].timestamp_ms < before_ms:
                self._log.popleft()
                dropped += 1
            return dropped

    def close(self) -> None:
        # Whoever waits on a closed store would otherwise sleep out its whole timeout.
        with self._change_signal:
            self._waits_over = True
            self._change_signal.notify_all()
