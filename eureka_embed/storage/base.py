"""The Store contract: what any backend (memory, SQL, ...) must do for the Registry.

Stores hold data, not rules. The :class:`~eureka_embed.registry.Registry` is the only place that
knows Eureka's rules; it asks a store for three things:

1. **Atomic per-instance read-modify-write** (:meth:`Store.mutate`). The store calls the
   registry's function with the current record and applies what it returns, with no other write
   to the same instance in between: no lost update between threads, nor between processes that
   share one database. The function may be called more than once (an optimistic store retries
   on conflict), so it must not have side effects of its own.
2. **A change log** with a monotonic sequence number. Every write that returns a :class:`Change`
   appends it in the same atomic step. Deltas, payload caches and peers read it; entries older
   than the retention window are pruned by :meth:`Store.prune_changes`.
3. **Cheap renewals** (:meth:`Store.renew`). Heartbeats are the hot path: a store may hold
   renewal timestamps in memory and persist them in batches (at most about a second late, and
   always on :meth:`Store.close`); everything else is written through before the call returns.
4. **Consistent reads.** A :class:`Snapshot` holds the records as they were after exactly the
   changes up to its sequence number (and, from :meth:`Store.snapshot_since`, those changes),
   so a delta and the hashcode of the registry it applies to always agree, on every node of a
   shared database too.
5. **Waiting for the next change** (:meth:`Store.wait_for_change`), for watches and long
   polls: every change wakes every waiter, including, for a store shared by several
   processes, a change another process made, once this store has caught up with it.

A :class:`LeaseRecord` is what a store keeps per instance. Records are shared, not copied: the
only field that may change after a record is stored is ``last_renewal_ms``, and only through
:meth:`Store.renew`. Every other change replaces the record.

Errors: a store raises :class:`~eureka_embed.errors.StorageUnavailable` when its backend cannot
be reached (nothing was written) and :class:`~eureka_embed.errors.StorageError` for other
failures; anything else it raises is a bug.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from eureka_embed.model import (
    ActionType,
    Applications,
    InstanceInfo,
    InstanceStatus,
    apps_hashcode,
)

if TYPE_CHECKING:
    from eureka_embed.storage.view_index import View

__all__ = ["Change", "ExpiredLeases", "LeaseRecord", "Snapshot", "Store", "Write", "delta_of"]

T = TypeVar("T")


@dataclass(slots=True, eq=False)
class LeaseRecord:
    """One lease: the instance as stored, its lease timestamps and its status override.

    ``instance.lease_info`` holds the lease's timestamps as of the last write (registration,
    service up); ``last_renewal_ms`` is the live renewal time (see :meth:`instance_now`).
    Evicted and cancelled leases are deleted, so a stored lease is never marked evicted.
    """

    instance: InstanceInfo
    duration_ms: int
    last_renewal_ms: int
    #: The status override recorded for this instance (Eureka's overriddenInstanceStatusMap).
    override: InstanceStatus | None = field(default=None)
    #: A store's own bookkeeping: the expiry bucket of its index holding this record
    #: (:mod:`eureka_embed.storage.record_index`). Not copied by ``replace``.
    expiry_bucket: Any = field(default=None, init=False, repr=False)

    @property
    def app(self) -> str:
        return self.instance.app

    @property
    def instance_id(self) -> str:
        return self.instance.instance_id

    def instance_now(self) -> InstanceInfo:
        """The instance with its leaseInfo brought up to the live renewal timestamp."""
        lease = self.instance.lease_info
        if lease.last_renewal_timestamp == self.last_renewal_ms:
            return self.instance
        return self.instance.evolve(
            lease_info=lease.evolve(last_renewal_timestamp=self.last_renewal_ms)
        )


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change log: the instance as it was right after the change."""

    sequence: int
    timestamp_ms: int
    action: ActionType
    instance: InstanceInfo

    @property
    def key(self) -> tuple[str, str]:
        return (self.instance.app, self.instance.instance_id)


@dataclass(frozen=True, slots=True)
class Write:
    """What a :meth:`Store.mutate` function asks the store to do.

    ``record`` replaces the stored one (``None`` deletes it); ``change``, when given, is logged
    with a fresh sequence number and timestamp ``change_ms`` in the same atomic step.
    """

    record: LeaseRecord | None
    change: ActionType | None = None
    change_instance: InstanceInfo | None = None
    change_ms: int = 0

    def logged_instance(self, current: LeaseRecord | None) -> InstanceInfo:
        """The instance the change log records: the one given, else the written (or removed) one."""
        if self.change_instance is not None:
            return self.change_instance
        source = self.record if self.record is not None else current
        if source is None:
            raise ValueError("a change needs an instance to log")
        return source.instance


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every record, the change sequence they are consistent with, and (from
    :meth:`Store.snapshot_since`) the logged changes that led there."""

    sequence: int
    records: Sequence[LeaseRecord]
    #: Changes with sequence numbers up to ``sequence``, in order; empty from ``snapshot()``.
    changes: Sequence[Change] = ()
    #: The apps hashcode of ``records``, from a store that keeps it as it goes; None makes
    #: :attr:`apps_hashcode` count the records.
    hashcode: str | None = None

    @property
    def apps_hashcode(self) -> str:
        """Eureka's hashcode of ``records`` (:func:`~eureka_embed.model.apps_hashcode`)."""
        if self.hashcode is not None:
            return self.hashcode
        return apps_hashcode(r.instance for r in self.records)


@dataclass(frozen=True, slots=True)
class ExpiredLeases:
    """What :meth:`Store.expired` found, read at one instant."""

    #: Every record whose ``last_renewal_ms + duration_ms`` is before the cut-off.
    records: Sequence[LeaseRecord]
    #: How many leases the store held at that instant.
    total: int


class Store(abc.ABC):
    """Persistence for leases and the change log. See the module docstring for the contract."""

    @abc.abstractmethod
    def get(self, app: str, instance_id: str) -> LeaseRecord | None:
        """The record of ``instance_id`` under ``app`` (upper-cased by the caller), or None."""

    @abc.abstractmethod
    def find(self, instance_id: str) -> list[LeaseRecord]:
        """Every record with ``instance_id``, whatever its app (normally zero or one)."""

    @abc.abstractmethod
    def records_of(self, app: str) -> list[LeaseRecord]:
        """The records of one app."""

    @abc.abstractmethod
    def snapshot(self) -> Snapshot:
        """All records, read consistently with the sequence number returned beside them.

        The sequence is read no later than the records, so a cache keyed by it may hold newer
        data than its key says but never older.
        """

    @abc.abstractmethod
    def snapshot_since(self, since_ms: int) -> Snapshot:
        """All records and the changes with ``timestamp_ms >= since_ms``, read at one instant.

        The records are exactly the outcome of the changes up to ``sequence``: every change
        in ``changes`` shows in ``records``, and no later one does.
        """

    @abc.abstractmethod
    def count(self) -> int:
        """How many leases are held."""

    @abc.abstractmethod
    def mutate(
        self, app: str, instance_id: str, fn: Callable[[LeaseRecord | None], tuple[Write | None, T]]
    ) -> T:
        """Atomically: read the record, call ``fn`` with it, apply the returned :class:`Write`.

        ``fn`` returns ``(write, result)``; ``write`` None leaves everything as it is. The
        record given to ``fn`` must not be modified; the written record replaces it.
        Returns ``result``. ``fn`` may run more than once and must have no side effects.
        """

    def mutate_each(
        self,
        keys: Sequence[tuple[str, str]],
        fn: Callable[[LeaseRecord | None], tuple[Write | None, T]],
    ) -> list[T]:
        """:meth:`mutate` with ``fn`` for each ``(app, instance_id)`` of ``keys``, in order.

        Each one is atomic, the batch is not: other writes may land between two of them. The
        results in the order of ``keys``. A store holding its state in memory does several
        under one hold of its lock (as :meth:`remove_each`, an eviction pass, does for
        removals); this default calls :meth:`mutate` for each.
        """
        return [self.mutate(app, instance_id, fn) for app, instance_id in keys]

    def remove_each(
        self,
        keys: Sequence[tuple[str, str]],
        fn: Callable[[LeaseRecord], InstanceInfo | None],
        change_ms: int,
    ) -> list[InstanceInfo]:
        """Remove the records of ``keys`` that ``fn`` names an instance for, each logged as a
        DELETED change of that instance at ``change_ms``; those instances, in key order.

        :meth:`mutate_each` with a removal, the write of an eviction pass (and of a cancel):
        ``fn`` is called with each record present (an absent key is skipped) and returns the
        instance to log, or None to keep the record; it is the :meth:`mutate` function of
        that key, with the same rules (no side effects; it may run more than once). Each
        removal is atomic, the batch is not. This default calls :meth:`mutate_each`; a store
        holding its state in memory removes a slice of records per hold of its lock, with
        no :class:`Write` made for each.
        """

        def write(current: LeaseRecord | None) -> tuple[Write | None, InstanceInfo | None]:
            gone = None if current is None else fn(current)
            if gone is None:
                return None, None
            return Write(None, ActionType.DELETED, change_instance=gone, change_ms=change_ms), gone

        return [gone for gone in self.mutate_each(keys, write) if gone is not None]

    @abc.abstractmethod
    def renew(self, app: str, instance_id: str, now_ms: int) -> LeaseRecord | None:
        """Set the record's ``last_renewal_ms`` to ``now_ms`` (never backwards); None if absent.

        May be persisted lazily (about a second at most, and always on :meth:`close`).
        """

    @abc.abstractmethod
    def latest_sequence(self) -> int:
        """The sequence number of the newest change (0 before any change)."""

    @abc.abstractmethod
    def changes_since(self, since_ms: int) -> list[Change]:
        """Logged changes with ``timestamp_ms >= since_ms``, in sequence order."""

    @abc.abstractmethod
    def changes_after(self, sequence: int) -> list[Change]:
        """Logged changes with a sequence number above ``sequence``, in sequence order."""

    @abc.abstractmethod
    def prune_changes(self, before_ms: int) -> int:
        """Drop changes older than ``before_ms``; how many were dropped."""

    @abc.abstractmethod
    def wait_for_change(self, after_sequence: int, timeout: float) -> int:
        """Block until the latest sequence is above ``after_sequence``; returns the latest one.

        Returns at once when a change past ``after_sequence`` is already there; else as soon
        as one arrives (a write through this store, or a change made through another store
        on the same database, once this one has caught up with it); else after ``timeout``
        seconds (zero or less: at once), with the sequence unchanged. Every waiter wakes on
        every change, and waiting holds no lock that readers or writers need, so many waiters
        cost nothing until something changes. Heartbeats move no sequence and wake nobody.
        Once the store is closed, every wait returns at once.
        """

    def delta_snapshot(self, since_ms: int) -> Snapshot:
        """What a delta needs: :meth:`snapshot_since` without the records (``records`` is
        empty) but with the hashcode of all of them, read at the same instant.

        This default takes a whole snapshot; the stores here copy no record.
        """
        full = self.snapshot_since(since_ms)
        return Snapshot(full.sequence, (), full.changes, full.apps_hashcode)

    def applications(self) -> Applications:
        """Every record's instance grouped as the full registry answer shows them (by
        application name, then instance id), its version the sequence and its hashcode that
        of the records, all read at one instant (as :meth:`snapshot`).

        This default groups a whole snapshot; the stores here regroup only the applications
        that changed since the last call, so one change in a large registry costs the size of
        its application.
        """
        snapshot = self.snapshot()
        return Applications.of(
            (r.instance for r in snapshot.records),
            version=str(snapshot.sequence),
            hashcode=snapshot.apps_hashcode,
        )

    def delta_applications(self, since_ms: int) -> Applications:
        """The delta answer of the window from ``since_ms``: each instance changed in it once,
        as its latest change left it, grouped as :meth:`applications` groups, with the
        sequence as its version and the hashcode of every record, all read at one instant
        (:func:`delta_of` of :meth:`delta_snapshot`).

        This default groups the whole window on every call; the stores here keep it grouped
        between calls (:mod:`eureka_embed.storage.delta_window`), so a read costs what
        changed since the last one.
        """
        return delta_of(self.delta_snapshot(since_ms))

    def delta_after_index(self, index: int) -> Snapshot | None:
        """:meth:`delta_snapshot` of only the changes after the registry stood at ``index``
        (a :meth:`view_index` of :data:`~eureka_embed.storage.view_index.ALL` this store
        gave out), in the order they happened; None when this store cannot tell which
        changes those are (an index it never gave out, from before a reload, or whose
        changes it has pruned), and then the caller answers the whole delta window.

        This default always answers None.
        """
        return None

    def apps_hashcode(self) -> str:
        """The apps hashcode of every record. This default counts a snapshot; the stores
        here keep the counts as they go and answer at once."""
        return self.snapshot().apps_hashcode

    def expired(self, before_ms: int) -> ExpiredLeases:
        """The records whose lease ran out before ``before_ms`` (``last_renewal_ms +
        duration_ms < before_ms``), in no particular order, with the number of leases held.

        The registry applies its own rules of expiry to these (a grace period, the lateness of
        the eviction timer), so it must see every lease that could have expired. This default
        scans a snapshot; the stores here look only at the leases that ran out.
        """
        records = self.snapshot().records
        found = [r for r in records if r.last_renewal_ms + r.duration_ms < before_ms]
        return ExpiredLeases(found, len(records))

    def view_index(self, view: View) -> int:
        """The watch index of ``view`` (:mod:`eureka_embed.storage.view_index`): at least 1,
        it moves with every change that view shows and never goes backwards.

        Read no later than the data it describes: what is read after it may be newer, never
        older. This default follows the whole registry for every view (correct, if a watcher
        of one application then wakes for any change); the stores here keep one per view.
        """
        return self.latest_sequence() + 1

    def flush(self) -> None:  # noqa: B027 - optional hook, a no-op for write-through stores
        """Persist any renewals held in memory."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Flush and release what the store owns, and end every wait. Further calls are
        errors."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def delta_of(snapshot: Snapshot) -> Applications:
    """The delta answer of ``snapshot``'s changes: each instance once, in its latest change."""
    latest: dict[tuple[str, str], InstanceInfo] = {}
    for change in snapshot.changes:
        latest[change.key] = change.instance
    return Applications.of(
        latest.values(), version=str(snapshot.sequence), hashcode=snapshot.apps_hashcode
    )
