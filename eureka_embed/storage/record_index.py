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
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice

from eureka_embed.model import Application, Applications, InstanceInfo, hashcode_of_counts
from eureka_embed.storage.base import Change, ExpiredLeases, LeaseRecord, Snapshot, Store
from eureka_embed.storage.delta_window import DeltaWindow
from eureka_embed.storage.view_index import View, ViewIndexes, app_view

__all__ = ["IndexedStore", "RecordIndex"]


#: The width of an expiry bucket. A bucket holds the leases running out within the same
#: second: an eviction pass reads the buckets wholly past its cut-off and the one it falls in.
_BUCKET_MS = 1000

_NO_MEMBERS: dict[str, LeaseRecord] = {}


class _ExpiryBucket(set[LeaseRecord]):
    """The records whose lease runs out within one :data:`_BUCKET_MS` span, numbered ``key``."""

    __slots__ = ("key",)

    def __init__(self, key: int) -> None:
        super().__init__()
        self.key = key


class RecordIndex:
    """Records by app and instance id, with what is kept as they change rather than counted on
    a read: how many records there are, how many of each status (the apps hashcode), and
    which leases run out when (expiry buckets, for eviction).

    No locking of its own: the owner serialises every call (a store's write lock). Each record
    in the index sits in exactly one bucket, the one of ``last_renewal_ms + duration_ms`` as
    of its last :meth:`put` or :meth:`renew`; a renewal time raised behind the index's back
    (SqlStore reading other nodes' renewals) leaves it in an earlier bucket, which
    :meth:`expired` corrects when it gets there. Earlier is safe: a lease is never missed.
    """

    __slots__ = ("_apps", "_buckets", "_hashcode", "_statuses", "count")

    def __init__(self) -> None:
        self._apps: dict[str, dict[str, LeaseRecord]] = {}
        self._buckets: dict[int, _ExpiryBucket] = {}
        self._statuses: dict[str, int] = {}
        self._hashcode: str | None = ""
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

    def apps(self) -> Iterator[tuple[str, Iterable[LeaseRecord]]]:
        """Each application's name and records (a view: read it under the owner's lock)."""
        for name, members in self._apps.items():
            yield name, members.values()

    def hashcode(self) -> str:
        """The apps hashcode of the records, from the counts (remade after a change)."""
        code = self._hashcode
        if code is None:
            code = self._hashcode = hashcode_of_counts(self._statuses)
        return code

    def put(self, record: LeaseRecord) -> LeaseRecord | None:
        """Store ``record`` under its app and id; returns the record it replaced."""
        members = self._apps.setdefault(record.app, {})
        previous = members.get(record.instance_id)
        if previous is record:
            return previous
        members[record.instance_id] = record
        if previous is None:
            self.count += 1
        else:
            self._unfile(previous)
        self._count_status(record.instance.status.value, +1)
        self._file(record, (record.last_renewal_ms + record.duration_ms) // _BUCKET_MS)
        return previous

    @classmethod
    def of(cls, records: Iterable[LeaseRecord]) -> RecordIndex:
        """An index of ``records``, the same as one they were :meth:`put` into in order, built
        in one pass (a store's reload files every record at once)."""
        index = cls()
        apps, buckets, statuses = index._apps, index._buckets, index._statuses
        for record in records:
            instance = record.instance
            members = apps.get(instance.app)
            if members is None:
                members = apps[instance.app] = {}
            if instance.instance_id in members:  # the same key twice: as put replaces it
                index.put(record)
                continue
            members[instance.instance_id] = record
            index.count += 1
            status = instance.status.value
            statuses[status] = statuses.get(status, 0) + 1
            key = (record.last_renewal_ms + record.duration_ms) // _BUCKET_MS
            bucket = buckets.get(key)
            if bucket is None:
                bucket = buckets[key] = _ExpiryBucket(key)
            bucket.add(record)
            record.expiry_bucket = bucket
        index._hashcode = None
        return index

    def remove(self, app: str, instance_id: str) -> LeaseRecord | None:
        members = self._apps.get(app)
        if members is None:
            return None
        removed = members.pop(instance_id, None)
        if removed is not None:
            self.count -= 1
            self._unfile(removed)
            if not members:
                del self._apps[app]
        return removed

    def remove_each(
        self,
        keys: Sequence[tuple[str, str]],
        fn: Callable[[LeaseRecord], InstanceInfo | None],
        gone: list[InstanceInfo],
    ) -> None:
        """:meth:`remove` each record of ``keys`` that ``fn`` names an instance for (absent
        keys skipped), appending those instances to ``gone`` in key order as it goes: should
        ``fn`` raise, the caller still knows what was removed (and logs it)."""
        apps, statuses = self._apps, self._statuses
        for app, instance_id in keys:
            members = apps.get(app, _NO_MEMBERS)
            record = members.get(instance_id)
            if record is None:
                continue
            instance = fn(record)
            if instance is None:
                continue
            del members[instance_id]
            if not members:
                del apps[app]
            self.count -= 1
            # _unfile with its status count written out: one pass removes thousands.
            statuses[record.instance.status.value] -= 1
            self._hashcode = None
            bucket = record.expiry_bucket
            if bucket is not None:
                self._drop_from(bucket, record)
            gone.append(instance)

    def renew(self, record: LeaseRecord, now_ms: int) -> None:
        """Raise ``record``'s renewal time to ``now_ms`` (never lower it) and move the lease to
        the bucket it now runs out in. The heartbeat hot path: a few dict and set operations."""
        if now_ms <= record.last_renewal_ms:
            return
        record.last_renewal_ms = now_ms
        bucket = record.expiry_bucket
        key = (now_ms + record.duration_ms) // _BUCKET_MS
        if bucket is not None and bucket.key != key:
            # _drop_from and _file, written out: two calls fewer on every heartbeat.
            buckets = self._buckets
            bucket.discard(record)
            old_key = bucket.key
            if not bucket and buckets.get(old_key) is bucket:
                del buckets[old_key]
            target = buckets.get(key)
            if target is None:
                target = buckets[key] = _ExpiryBucket(key)
            target.add(record)
            record.expiry_bucket = target

    def expired(self, before_ms: int) -> list[LeaseRecord]:
        """The records whose ``last_renewal_ms + duration_ms`` is before ``before_ms``.

        Reads only the buckets at or before the cut-off's: the leases that ran out, those of
        the cut-off's own second, and any left behind by a renewal made without :meth:`renew`,
        which move to their bucket here.
        """
        found: list[LeaseRecord] = []
        # Gathered first: a record filed again below may land in another due bucket.
        apps = self._apps
        for record in self.due(before_ms):
            bucket = record.expiry_bucket
            instance = record.instance
            if apps.get(instance.app, _NO_MEMBERS).get(instance.instance_id) is not record:
                # Renewed through a lookup made just before its store replaced this index.
                self._drop_from(bucket, record)
                continue
            runs_out = record.last_renewal_ms + record.duration_ms
            if runs_out < before_ms:
                found.append(record)
            key = runs_out // _BUCKET_MS
            if key != bucket.key:  # renewed behind the index's back: file it right
                self._drop_from(bucket, record)
                self._file(record, key)
        return found

    def due(self, before_ms: int) -> list[LeaseRecord]:
        """The records of the buckets that :meth:`expired` reads for ``before_ms``: those that
        ran out, and those the index last saw renewed too early for the cut-off."""
        last_key = (before_ms - 1) // _BUCKET_MS
        return [r for key, bucket in self._buckets.items() if key <= last_key for r in bucket]

    def _count_status(self, status: str, step: int) -> None:
        statuses = self._statuses
        statuses[status] = statuses.get(status, 0) + step
        self._hashcode = None

    def _file(self, record: LeaseRecord, key: int) -> None:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _ExpiryBucket(key)
        bucket.add(record)
        record.expiry_bucket = bucket

    def _unfile(self, record: LeaseRecord) -> None:
        """Forget a record that left the index: its status count and its bucket."""
        self._count_status(record.instance.status.value, -1)
        bucket = record.expiry_bucket
        if bucket is not None:
            self._drop_from(bucket, record)

    def _drop_from(self, bucket: _ExpiryBucket, record: LeaseRecord) -> None:
        bucket.discard(record)
        # Empty buckets go at once: they would otherwise pile up while nothing is evicted
        # (self-preservation), one a second. The identity check spares a newer bucket of the
        # same key, should this one belong to an index the store has since replaced.
        if not bucket and self._buckets.get(bucket.key) is bucket:
            del self._buckets[bucket.key]


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
        #: The newest sequence pruned from the log: changes after it are all still there.
        self._pruned_through = 0
        #: Each application as last grouped by :meth:`applications`, with its view index then.
        self._grouped: dict[str, tuple[int, Application]] = {}
        self._change_signal = threading.Condition(threading.Lock())
        self._waits_over = False
        #: Changes appended since the log was last replaced (a reload): the log's first entry
        #: is at position ``_appended - len(_log)``.
        self._appended = 0
        #: How many times the log was replaced: a delta window of an older log is rebuilt.
        self._log_epoch = 0
        # The delta window, grouped between reads under a lock of its own (see delta_window).
        self._window: DeltaWindow | None = None
        self._window_lock = threading.Lock()

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
            index = self._index
            return Snapshot(self._sequence, index.records(), hashcode=index.hashcode())

    def snapshot_since(self, since_ms: int) -> Snapshot:
        with self._lock:
            index = self._index
            return Snapshot(
                self._sequence, index.records(), self._logged_since(since_ms), index.hashcode()
            )

    def delta_snapshot(self, since_ms: int) -> Snapshot:
        with self._lock:
            return Snapshot(
                self._sequence, (), self._logged_since(since_ms), self._index.hashcode()
            )

    def applications(self) -> Applications:
        with self._lock:
            views = self._views
            before = self._grouped
            grouped: dict[str, tuple[int, Application]] = {}
            for name, members in self._index.apps():
                # An application's view index moves with every change of its instances (and
                # with a reload): the same index, the same instances.
                version = views.index(app_view(name))
                known = before.get(name)
                if known is None or known[0] != version:
                    instances = sorted((r.instance for r in members), key=_instance_id)
                    known = (version, Application(name, tuple(instances)))
                grouped[name] = known
            # A new dict, not edits: applications that left are dropped with the old one.
            self._grouped = grouped
            return Applications(
                tuple(app for _, (_, app) in sorted(grouped.items())),
                str(self._sequence),
                self._index.hashcode(),
            )

    def delta_applications(self, since_ms: int) -> Applications:
        with self._window_lock:
            with self._lock:
                sequence, hashcode = self._sequence, self._index.hashcode()
                log_start = self._appended - len(self._log)
                window = self._window
                if (
                    window is None
                    or window.epoch != self._log_epoch
                    or window.position < log_start  # pruned before this window took it in
                    or since_ms < window.since_ms  # the clock went back: dropped changes return
                ):
                    new = self._logged_since(since_ms)
                    window = self._window = DeltaWindow(self._log_epoch, self._appended - len(new))
                else:
                    new = list(islice(reversed(self._log), self._appended - window.position))
                    new.reverse()
            # Grouped with the store's lock released: writers and heartbeats do not wait.
            window.add(new)
            window.cut(since_ms, log_start)
            return Applications(window.applications(), str(sequence), hashcode)

    def delta_after_index(self, index: int) -> Snapshot | None:
        with self._lock:
            after = self._views.sequence_at(index)
            if after is None or after < self._pruned_through:
                return None
            newer: list[Change] = []
            # From the newest end: a watcher is usually a change or two behind.
            for change in reversed(self._log):
                if change.sequence <= after:
                    break
                newer.append(change)
            newer.reverse()
            return Snapshot(self._sequence, (), newer, self._index.hashcode())

    def count(self) -> int:
        return self._index.count

    def apps_hashcode(self) -> str:
        with self._lock:
            return self._index.hashcode()

    def expired(self, before_ms: int) -> ExpiredLeases:
        with self._lock:
            index = self._index
            return ExpiredLeases(index.expired(before_ms), index.count)

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
        """The logged changes from ``since_ms`` on (caller holds ``_lock``).

        From the newest end, as far as the first older one: the log is in time order (as
        pruning assumes too), and a window of recent changes in a log still holding a large
        registry's registrations then costs the window, not the log.
        """
        newer: list[Change] = []
        for change in reversed(self._log):
            if change.timestamp_ms < since_ms:
                break
            newer.append(change)
        newer.reverse()
        return newer

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
        self._appended += 1
        self._sequence = change.sequence
        self._views.record(change)

    def _append_each(self, changes: list[Change]) -> None:
        """:meth:`_append` each of ``changes`` (not empty), in order (caller holds ``_lock``)."""
        self._log.extend(changes)
        self._appended += len(changes)
        self._sequence = changes[-1].sequence
        record = self._views.record
        for change in changes:
            record(change)

    def _reset_views(self) -> None:
        """Every view's index anew, after records and sequence were replaced wholesale
        (caller holds ``_lock``)."""
        self._views.reset(self._sequence, self._index.records())
        # The views now start at the reloaded sequence: nothing older is asked of the log.
        self._pruned_through = 0
        self._grouped = {}
        # The log may have been replaced too (SqlStore's reload): the window starts again.
        self._appended = len(self._log)
        self._log_epoch += 1

    def _notify_change(self) -> None:
        """Wake every waiter (after the sequence moved, with ``_lock`` released)."""
        with self._change_signal:
            self._change_signal.notify_all()

    def _prune_log(self, before_ms: int) -> int:
        with self._lock:
            dropped = 0
            while self._log and self._log[0].timestamp_ms < before_ms:
                self._pruned_through = self._log.popleft().sequence
                dropped += 1
            return dropped

    def close(self) -> None:
        # Whoever waits on a closed store would otherwise sleep out its whole timeout.
        with self._change_signal:
            self._waits_over = True
            self._change_signal.notify_all()


def _instance_id(instance: InstanceInfo) -> str:
    return instance.instance_id
