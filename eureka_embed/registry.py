"""Registry: every Eureka rule (SPEC section 3) over a pluggable Store.

Leases, the lastDirtyTimestamp conflict rules, status overrides, self-preservation, eviction,
deltas and the apps hashcode live here and nowhere else; the store only keeps data atomically.
The registry is thread-safe: per-instance writes are atomic in the store, and the few counters
kept here (expected clients, renewals per minute) have their own lock.
"""

from __future__ import annotations

import enum
import itertools
import logging
import random
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from eureka_embed import register_rules
from eureka_embed.asg_status import AsgListener, AsgStatus, AsgStatuses
from eureka_embed.blocking import may_block
from eureka_embed.clock import Clock, system_clock
from eureka_embed.codec.bulk import collection_paused
from eureka_embed.config import RegistryConfig
from eureka_embed.errors import InstanceNotFound, InvalidInput
from eureka_embed.events import RegistryEvent, RegistryListener, WriteAction
from eureka_embed.model import (
    ActionType,
    Application,
    Applications,
    InstanceInfo,
    InstanceStatus,
    LeaseInfo,
    copier,
)
from eureka_embed.storage.base import LeaseRecord, Store, Write, delta_of
from eureka_embed.storage.memory import MemoryStore

__all__ = ["Registry", "RenewOutcome", "RenewResult"]

log = logging.getLogger(__name__)

_UP = InstanceStatus.UP
_OUT_OF_SERVICE = InstanceStatus.OUT_OF_SERVICE
_UNKNOWN = InstanceStatus.UNKNOWN
_DELETED = ActionType.DELETED
# What a removal changes (Registry._deleted), copied without keywords: an eviction pass makes
# thousands of these at once.
_evicted_lease = copier(LeaseInfo, "last_renewal_timestamp", "eviction_timestamp")
_deleted_instance = copier(InstanceInfo, "action_type", "last_updated_timestamp", "lease_info")
_MINUTE_MS = 60_000


class RenewOutcome(enum.Enum):
    """How a heartbeat ended. HTTP: OK 200, NOT_FOUND 404, CONFLICT 409 with the instance."""

    OK = "ok"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class RenewResult:
    outcome: RenewOutcome
    #: The stored instance, given with CONFLICT so the peer can adopt it.
    instance: InstanceInfo | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is RenewOutcome.OK


_RENEWED = RenewResult(RenewOutcome.OK)
_NOT_FOUND = RenewResult(RenewOutcome.NOT_FOUND)
# Stands for "nothing was written" inside a store transaction, where None is a valid answer.
_NO_INSTANCE = InstanceInfo("", "", "", "")


def _resolve_status(
    instance: InstanceInfo,
    override: InstanceStatus | None,
    existing: LeaseRecord | None,
    replication: bool,
    asg: AsgStatus | None = None,
) -> InstanceStatus:
    """Eureka's status rules, first match wins (SPEC section 3).

    In the order of Eureka's AWS registry: the instance's own DOWN or STARTING, an explicit
    override, the state of the instance's ASG (``asg``, when one was set: DISABLED takes it out
    of service, ENABLED puts it in), then the existing lease's status.
    """
    status = instance.status
    if status is not _UP and status is not _OUT_OF_SERVICE:
        return status
    if override is not None:
        return override
    if asg is not None:
        return _UP if asg is AsgStatus.ENABLED else _OUT_OF_SERVICE
    if not replication and existing is not None:
        existing_status = existing.instance.status
        if existing_status is _UP or existing_status is _OUT_OF_SERVICE:
            return existing_status
    return status


def _lease_key(record: LeaseRecord) -> tuple[str, str]:
    return (record.app, record.instance_id)


class _RenewRate:
    """Renewals counted per whole minute since the registry started (Eureka's MeasuredRate).

    The increment is the heartbeat hot path, so it takes no lock: ``next()`` on an
    ``itertools.count`` is atomic in CPython. Rolling to the next minute takes the lock.
    """

    def __init__(self, start_ms: int) -> None:
        self._lock = threading.Lock()
        self._bucket_end = start_ms + _MINUTE_MS
        self._ticks = itertools.count()
        self._last_minute = 0
        self.minutes_measured = 0

    def increment(self, now_ms: int) -> None:
        if now_ms >= self._bucket_end:
            self.roll(now_ms)
        next(self._ticks)

    def last_minute(self, now_ms: int) -> int:
        if now_ms >= self._bucket_end:
            self.roll(now_ms)
        return self._last_minute

    def roll(self, now_ms: int) -> None:
        with self._lock:
            if now_ms < self._bucket_end:
                return
            # next() itself counts one, hence the minus one.
            counted = next(self._ticks)
            self._ticks = itertools.count()
            elapsed_buckets = (now_ms - self._bucket_end) // _MINUTE_MS + 1
            # A gap of more than one minute means the last whole minute saw no renewals.
            self._last_minute = counted if elapsed_buckets == 1 else 0
            self._bucket_end += elapsed_buckets * _MINUTE_MS
            self.minutes_measured += elapsed_buckets


class Registry:
    """A Eureka registry over a :class:`~eureka_embed.storage.base.Store`.

    Writes take ``replication=True`` when a peer sent them: they are applied under Eureka's
    replication rules and reported to listeners as such, so replication never loops.

    Without a ``store`` the registry keeps its leases in a MemoryStore of its own, which
    :meth:`close` closes. A store passed in stays its owner's to close, unless ``owns_store``
    hands it over (for factories that build a store only for the registry they return).
    """

    def __init__(
        self,
        store: Store | None = None,
        config: RegistryConfig | None = None,
        clock: Clock | None = None,
        *,
        rng: random.Random | None = None,
        owns_store: bool | None = None,
    ) -> None:
        self._owns_store = store is None if owns_store is None else owns_store
        self.store: Store = store if store is not None else MemoryStore()
        self.config = config if config is not None else RegistryConfig()
        self.clock: Clock = clock if clock is not None else system_clock
        self._rng = rng if rng is not None else random.Random()
        self._lock = threading.Lock()
        self._listeners: list[RegistryListener] = []
        # The listeners that want heartbeats too: without any, a heartbeat builds no event.
        self._heartbeat_listeners: list[RegistryListener] = []
        self._eviction_listeners: list[Callable[[Sequence[InstanceInfo]], None]] = []
        now = self.clock.now_ms()
        self.started_ms = now
        self._renews = _RenewRate(now)
        # Leases restored from a durable store are clients that will renew.
        self._expected_clients = self.config.initial_expected_clients + self.store.count()
        self._threshold = self._compute_threshold(self._expected_clients)
        self._last_eviction_ms: int | None = None
        self.evicted_total = 0
        #: The ASG states operators set (``PUT asg/{asgName}/status``), see :mod:`.asg_status`.
        self.asg_statuses = AsgStatuses()
        self._asg_listeners: list[AsgListener] = []

    # ------------------------------------------------------------------ listeners

    def add_listener(self, listener: RegistryListener, *, heartbeats: bool = True) -> None:
        """Call ``listener`` after every successful write (from the writing thread);
        ``heartbeats=False``: every write but heartbeats, which then stay as cheap as with no
        listener at all."""
        with self._lock:
            self._listeners = [*self._listeners, listener]
            if heartbeats:
                self._heartbeat_listeners = [*self._heartbeat_listeners, listener]

    def remove_listener(self, listener: RegistryListener) -> None:
        with self._lock:
            self._listeners = [x for x in self._listeners if x is not listener]
            self._heartbeat_listeners = [x for x in self._heartbeat_listeners if x is not listener]

    def add_eviction_listener(self, listener: Callable[[Sequence[InstanceInfo]], None]) -> None:
        """Call ``listener`` with the leases each eviction run removed (the dashboard's history).

        Apart from :meth:`add_listener`: Eureka never replicates an eviction, so it is no write.
        """
        with self._lock:
            self._eviction_listeners = [*self._eviction_listeners, listener]

    def _emit(self, event: RegistryEvent, listeners: list[RegistryListener] | None = None) -> None:
        for listener in self._listeners if listeners is None else listeners:
            try:
                listener(event)
            except Exception:
                # A broken listener must not undo or fail a write that already happened.
                log.exception("registry listener %r failed on %s", listener, event.action)

    # ------------------------------------------------------------------ writes

    def register(
        self,
        instance: InstanceInfo,
        *,
        replication: bool = False,
        expected_app: str | None = None,
    ) -> InstanceInfo:
        """Register (or re-register) ``instance``; returns the instance as stored.

        ``expected_app`` is the application the caller registers it under (the URL's, over
        HTTP); the instance's own app must match it, in any case.

        :raises ValidationError: the instance breaks a register rule
            (:mod:`eureka_embed.register_rules`); nothing was stored.
        """
        # Every way in (HTTP, peers, the in-process client, direct calls) passes here, once.
        register_rules.check_registration(instance, expected_app=expected_app)
        app = instance.app.upper()
        if app != instance.app:
            instance = instance.evolve(app=app)
        stored = self._register(app, instance.instance_id, lambda _: instance, replication)
        assert stored is not None  # the incoming instance is always given
        return stored

    def _register(
        self,
        app: str,
        instance_id: str,
        incoming_for: Callable[[LeaseRecord | None], InstanceInfo | None],
        replication: bool,
    ) -> InstanceInfo | None:
        """The registration rules as one atomic write; ``incoming_for`` None means no write."""
        now = self.clock.now_ms()

        def write(existing: LeaseRecord | None) -> tuple[Write | None, tuple[InstanceInfo, bool]]:
            incoming = incoming_for(existing)
            if incoming is None:
                return None, (_NO_INSTANCE, False)
            record = self._registration(incoming, existing, now, replication)
            return Write(record, ActionType.ADDED, change_ms=now), (
                record.instance,
                existing is None,
            )

        stored, is_new = self.store.mutate(app, instance_id, write)
        if stored is _NO_INSTANCE:
            return None
        if is_new:
            self._adjust_expected_clients(+1)
        self._emit(RegistryEvent(WriteAction.REGISTER, app, instance_id, stored, replication))
        return stored

    def _registration(
        self, incoming: InstanceInfo, existing: LeaseRecord | None, now: int, replication: bool
    ) -> LeaseRecord:
        registrant = incoming
        if (
            existing is not None
            and existing.instance.last_dirty_timestamp > incoming.last_dirty_timestamp
        ):
            registrant = existing.instance
        override = existing.override if existing is not None else None
        if override is None and registrant.overridden_status is not _UNKNOWN:
            override = registrant.overridden_status
        asg = self.asg_statuses.get(registrant.asg_name)
        status = _resolve_status(registrant, override, existing, replication, asg)
        service_up = existing.instance.lease_info.service_up_timestamp if existing else 0
        if status is _UP and service_up == 0:
            service_up = now
        duration_secs = registrant.lease_info.duration_secs
        if duration_secs <= 0:
            duration_secs = self.config.default_lease_duration_secs
        stored = registrant.evolve(
            status=status,
            overridden_status=override if override is not None else _UNKNOWN,
            action_type=ActionType.ADDED,
            last_updated_timestamp=now,
            lease_info=LeaseInfo(
                renewal_interval_secs=registrant.lease_info.renewal_interval_secs,
                duration_secs=duration_secs,
                registration_timestamp=now,
                last_renewal_timestamp=now,
                eviction_timestamp=0,
                service_up_timestamp=service_up,
            ),
        )
        return LeaseRecord(
            instance=stored,
            duration_ms=duration_secs * 1000,
            last_renewal_ms=now,
            override=override,
        )

    def renew(
        self,
        app: str,
        instance_id: str,
        *,
        last_dirty_timestamp: int | None = None,
        overridden_status: InstanceStatus | None = None,
        replication: bool = False,
    ) -> RenewResult:
        """A heartbeat. NOT_FOUND tells the client to register again; see :class:`RenewResult`.

        ``overridden_status`` is what a peer says the override is (replications only).
        """
        # The hot path: one store read, one store renew, a lock-free counter.
        app = app.upper()
        record = self.store.get(app, instance_id)
        if record is None:
            return _NOT_FOUND
        instance = record.instance
        status = instance.status
        if status is _UNKNOWN:
            return _NOT_FOUND
        if (
            (status is _UP or status is _OUT_OF_SERVICE)
            and record.override is not None
            and record.override is not status
        ) or (
            replication
            and overridden_status is not None
            and overridden_status is not _UNKNOWN
            and overridden_status is not record.override
        ):
            renewed_instance = self._reapply_override(app, instance_id, overridden_status)
            if renewed_instance is None:
                return _NOT_FOUND
        now = self.clock.now_ms()
        renewed = self.store.renew(app, instance_id, now)
        if renewed is None:
            return _NOT_FOUND
        self._renews.increment(now)
        instance = renewed.instance
        if self._heartbeat_listeners:
            self._emit(
                RegistryEvent(WriteAction.HEARTBEAT, app, instance_id, instance, replication),
                self._heartbeat_listeners,
            )
        if (
            last_dirty_timestamp is not None
            and self.config.sync_when_timestamp_differs
            and last_dirty_timestamp != instance.last_dirty_timestamp
        ):
            if last_dirty_timestamp > instance.last_dirty_timestamp:
                return _NOT_FOUND
            if replication:
                return RenewResult(RenewOutcome.CONFLICT, renewed.instance_now())
        return _RENEWED

    def _reapply_override(
        self, app: str, instance_id: str, peer_override: InstanceStatus | None
    ) -> InstanceInfo | None:
        """Renew's slow path: record a peer's override and let the override rule set the status.

        Also how a changed ASG state reaches the instances of that ASG (``peer_override`` None).

        Eureka changes the status silently here; *ours* logs a MODIFIED change, so clients on
        deltas see it.
        """
        may_block()  # a write through to the store; nothing is changed before it
        now = self.clock.now_ms()

        def write(existing: LeaseRecord | None) -> tuple[Write | None, InstanceInfo | None]:
            if existing is None:
                return None, None
            override = existing.override
            if peer_override is not None and peer_override is not _UNKNOWN:
                override = peer_override
            asg = self.asg_statuses.get(existing.instance.asg_name)
            status = _resolve_status(existing.instance, override, existing, True, asg)
            current = existing.instance
            if status is current.status and override is existing.override:
                return None, current
            if status is _UNKNOWN:
                return None, None
            stored = current.evolve(
                status=status,
                overridden_status=override if override is not None else _UNKNOWN,
                action_type=ActionType.MODIFIED,
                last_updated_timestamp=now,
            )
            record = replace(existing, instance=stored, override=override)
            return Write(record, ActionType.MODIFIED, change_ms=now), stored

        return self.store.mutate(app, instance_id, write)

    def cancel(self, app: str, instance_id: str, *, replication: bool = False) -> InstanceInfo:
        """Remove the lease and its override. Raises :class:`InstanceNotFound`."""
        app = app.upper()
        removed = self._remove(app, instance_id)
        if removed is None:
            raise InstanceNotFound(app, instance_id)
        self._adjust_expected_clients(-1)
        self._emit(RegistryEvent(WriteAction.CANCEL, app, instance_id, removed, replication))
        return removed

    def _remove(self, app: str, instance_id: str) -> InstanceInfo | None:
        now = self.clock.now_ms()
        removed = self.store.remove_each([(app, instance_id)], self._deleted(now), now)
        return removed[0] if removed else None

    def _deleted(
        self, now: int, *, expired_only: bool = False
    ) -> Callable[[LeaseRecord], InstanceInfo | None]:
        """The :meth:`Store.remove_each` function removing a lease at ``now``: the instance
        its DELETED change logs (if ``expired_only``, None for a lease renewed since the
        eviction scan, which stays)."""

        def deleted(existing: LeaseRecord) -> InstanceInfo | None:
            if expired_only and not self._is_expired(existing, now):
                return None  # renewed since the eviction scan: keep it
            instance = existing.instance
            lease = _evicted_lease(instance.lease_info, existing.last_renewal_ms, now)
            return _deleted_instance(instance, _DELETED, now, lease)

        return deleted

    def update_status(
        self,
        app: str,
        instance_id: str,
        status: InstanceStatus,
        *,
        last_dirty_timestamp: int | None = None,
        replication: bool = False,
    ) -> InstanceInfo:
        """Set a status override (e.g. OUT_OF_SERVICE); renews the lease."""
        app = app.upper()
        now = self.clock.now_ms()

        def write(existing: LeaseRecord | None) -> tuple[Write | None, InstanceInfo | None]:
            if existing is None:
                return None, None
            current = existing.instance
            renewed = replace(existing, last_renewal_ms=max(now, existing.last_renewal_ms))
            if current.status is status:
                return Write(renewed), current
            lease = current.lease_info
            if status is _UP and lease.service_up_timestamp == 0:
                lease = lease.evolve(service_up_timestamp=now)
            stored = current.evolve(
                status=status,
                overridden_status=status,
                last_dirty_timestamp=max(current.last_dirty_timestamp, last_dirty_timestamp or 0),
                action_type=ActionType.MODIFIED,
                last_updated_timestamp=now,
                lease_info=lease,
            )
            record = replace(renewed, instance=stored, override=status)
            return Write(record, ActionType.MODIFIED, change_ms=now), stored

        stored = self.store.mutate(app, instance_id, write)
        if stored is None:
            raise InstanceNotFound(app, instance_id)
        self._emit(
            RegistryEvent(
                WriteAction.STATUS_UPDATE, app, instance_id, stored, replication, status=status
            )
        )
        return stored

    def delete_status_override(
        self,
        app: str,
        instance_id: str,
        status: InstanceStatus | None = None,
        *,
        last_dirty_timestamp: int | None = None,
        replication: bool = False,
    ) -> InstanceInfo:
        """Remove the override; the status becomes ``status`` (UNKNOWN when omitted, as Eureka).

        An UNKNOWN status makes the next heartbeat answer NOT_FOUND, so the client registers
        again with its own status.
        """
        app = app.upper()
        new_status = status if status is not None else _UNKNOWN
        now = self.clock.now_ms()

        def write(existing: LeaseRecord | None) -> tuple[Write | None, InstanceInfo | None]:
            if existing is None:
                return None, None
            renewed = replace(existing, last_renewal_ms=max(now, existing.last_renewal_ms))
            current = existing.instance
            if existing.override is None:
                return Write(renewed), current
            stored = current.evolve(
                status=new_status,
                overridden_status=_UNKNOWN,
                last_dirty_timestamp=max(current.last_dirty_timestamp, last_dirty_timestamp or 0),
                action_type=ActionType.MODIFIED,
                last_updated_timestamp=now,
            )
            record = replace(renewed, instance=stored, override=None)
            return Write(record, ActionType.MODIFIED, change_ms=now), stored

        stored = self.store.mutate(app, instance_id, write)
        if stored is None:
            raise InstanceNotFound(app, instance_id)
        self._emit(
            RegistryEvent(
                WriteAction.DELETE_STATUS_OVERRIDE,
                app,
                instance_id,
                stored,
                replication,
                status=new_status,
            )
        )
        return stored

    def add_asg_listener(self, listener: AsgListener) -> None:
        """Call ``listener`` after every ASG state change (the replicator forwards them)."""
        with self._lock:
            self._asg_listeners = [*self._asg_listeners, listener]

    def remove_asg_listener(self, listener: AsgListener) -> None:
        with self._lock:
            self._asg_listeners = [x for x in self._asg_listeners if x is not listener]

    def update_asg_status(
        self, asg_name: str, status: AsgStatus, *, replication: bool = False
    ) -> list[InstanceInfo]:
        """Set the state of ASG ``asg_name``; returns its instances whose status changed.

        The instances of the ASG are resolved again at once (a disabled ASG's go out of service,
        an enabled one's back in), each as a MODIFIED change, so clients on deltas see it.

        :raises InvalidInput: a blank ASG name.
        """
        if not asg_name.strip():
            raise InvalidInput("the ASG name is missing")
        self.asg_statuses.set(asg_name, status)
        changed = []
        for instance in self.get_applications().instances():
            if instance.asg_name != asg_name:
                continue
            stored = self._reapply_override(instance.app, instance.instance_id, None)
            if stored is not None and stored.status is not instance.status:
                changed.append(stored)
        for listener in self._asg_listeners:
            try:
                listener(asg_name, status, replication)
            except Exception:
                # As for write listeners: the state is set; a broken listener must not undo it.
                log.exception("ASG listener %r failed on %s %s", listener, asg_name, status)
        return changed

    def update_metadata(
        self,
        app: str,
        instance_id: str,
        metadata: Mapping[str, str],
        *,
        replication: bool = False,
    ) -> InstanceInfo:
        """Merge ``metadata`` into the instance's; Eureka treats this as a re-registration.

        :raises ValidationError: ``metadata`` is not what a registration may carry.
        :raises InstanceNotFound: no such instance.
        """
        app = app.upper()
        register_rules.check_metadata(metadata)

        def merged(existing: LeaseRecord | None) -> InstanceInfo | None:
            if existing is None:
                return None
            current = existing.instance
            return current.evolve(metadata={**current.metadata, **metadata})

        stored = self._register(app, instance_id, merged, replication)
        if stored is None:
            raise InstanceNotFound(app, instance_id)
        return stored

    # ------------------------------------------------------------------ reads

    @property
    def sequence(self) -> int:
        """The newest change's sequence number: a cache key that changes with every change."""
        return self.store.latest_sequence()

    def get_instance(self, app: str, instance_id: str) -> InstanceInfo | None:
        """The instance, or None when absent or its lease has expired (and may be evicted)."""
        record = self.store.get(app.upper(), instance_id)
        if record is None or self._hidden_as_expired(record):
            return None
        return record.instance_now()

    def find_instance(self, instance_id: str) -> InstanceInfo | None:
        """The instance with ``instance_id`` under any application."""
        for record in self.store.find(instance_id):
            if not self._hidden_as_expired(record):
                return record.instance_now()
        return None

    def _hidden_as_expired(self, record: LeaseRecord) -> bool:
        return self._is_expired(record, self.clock.now_ms()) and self.is_lease_expiration_enabled()

    def _is_expired(self, record: LeaseRecord, now: int, extra_ms: int = 0) -> bool:
        # ours: a lease restored from a durable store could not renew while this node was
        # down, so it counts as renewed when the node started (one renewal window of grace).
        renewed = max(record.last_renewal_ms, self.started_ms)
        return now > renewed + record.duration_ms + extra_ms

    def get_application(self, app: str) -> Application | None:
        records = self.store.records_of(app.upper())
        if not records:
            return None
        instances = sorted((r.instance for r in records), key=lambda i: i.instance_id)
        return Application(app.upper(), tuple(instances))

    def get_applications(self) -> Applications:
        """The full registry. Lease timestamps are as of each instance's last change."""
        return self.store.applications()

    def get_delta(self, after_index: int | None = None) -> Applications:
        """Changes of the retention window: each changed instance once, in its latest state.

        With ``after_index`` (the watch index of the whole registry a client last read), only
        the changes after it, where the store can still tell them; else the whole window. A
        watching client woken by one change then decodes that change, not three minutes'.

        The changes and the hashcode come from one snapshot: a client that merged every
        earlier change and then this delta holds exactly the registry the hashcode counts.
        """
        if after_index is not None:
            snapshot = self.store.delta_after_index(after_index)
            if snapshot is not None:
                return delta_of(snapshot)
        return self.store.delta_applications(self.clock.now_ms() - self.config.delta_retention_ms)

    def get_vip(self, vip: str) -> Applications:
        """Instances whose comma-separated vipAddress names ``vip`` (case-insensitively)."""
        return self._by_vip(vip, InstanceInfo.vip_names)

    def get_secure_vip(self, svip: str) -> Applications:
        return self._by_vip(svip, InstanceInfo.secure_vip_names)

    def _by_vip(self, name: str, names_of: Callable[[InstanceInfo], Iterable[str]]) -> Applications:
        wanted = name.strip().lower()
        matching = [
            r.instance
            for r in self.store.snapshot().records
            if any(n.lower() == wanted for n in names_of(r.instance))
        ]
        # Eureka answers VIP lookups with version -1: they are not part of the delta protocol.
        return Applications.of(matching, version="-1")

    def apps_hashcode(self) -> str:
        """Eureka's hashcode of the whole registry: the store keeps it as it changes."""
        return self.store.apps_hashcode()

    # ------------------------------------------------------------------ self-preservation

    @property
    def expected_clients(self) -> int:
        return self._expected_clients

    def renewal_threshold(self) -> int:
        """Renewals per minute at or below which expired leases are kept (self-preservation)."""
        return self._threshold

    def renews_last_minute(self) -> int:
        return self._renews.last_minute(self.clock.now_ms())

    def is_lease_expiration_enabled(self) -> bool:
        if not self.config.self_preservation:
            return True
        return self._threshold > 0 and self.renews_last_minute() > self._threshold

    def is_self_preservation_active(self) -> bool:
        """True while expired leases are being kept because too few renewals arrive."""
        return not self.is_lease_expiration_enabled()

    def open_for_traffic(self, expected_clients: int) -> None:
        """Start counting from ``expected_clients`` (e.g. what a peer copy brought in)."""
        with self._lock:
            self._expected_clients = max(expected_clients, self.config.initial_expected_clients)
            self._threshold = self._compute_threshold(self._expected_clients)

    def _adjust_expected_clients(self, delta: int) -> None:
        with self._lock:
            self._expected_clients = max(self._expected_clients + delta, 0)
            self._threshold = self._compute_threshold(self._expected_clients)

    def _compute_threshold(self, expected_clients: int) -> int:
        per_minute = 60 / self.config.expected_client_renewal_interval_secs
        return int(expected_clients * per_minute * self.config.renewal_percent_threshold)

    def update_renewal_threshold(self) -> None:
        """Eureka's periodic correction: trust the registry size unless it fell too far.

        A drop below the threshold fraction is what self-preservation is for, so it is not
        adopted (unless self-preservation is off).
        """
        count = self.store.count()
        with self._lock:
            floor = self.config.renewal_percent_threshold * self._expected_clients
            if count > floor or not self.config.self_preservation:
                self._expected_clients = max(count, self.config.initial_expected_clients)
                self._threshold = self._compute_threshold(self._expected_clients)

    # ------------------------------------------------------------------ maintenance

    def evict(self) -> list[InstanceInfo]:
        """Evict expired leases, at most (1 - threshold) of the registry per run, at random.

        A late run (the timer fired after more than the eviction interval) gives every lease
        the lateness as extra time, as Eureka does: the clients may have been paused too.
        """
        now = self.clock.now_ms()
        compensation = 0
        if self._last_eviction_ms is not None:
            late = now - self._last_eviction_ms - self.config.eviction_interval_ms
            compensation = max(late, 0)
        self._last_eviction_ms = now
        if not self.is_lease_expiration_enabled():
            return []
        # A pass at 100k with 15 % expired logs 15,000 DELETED changes (45,000 new objects,
        # none garbage): with the collector on, its young and middle collections re-examined
        # them again and again while they were made, 20-61 ms of a 150-250 ms pass (measured
        # with gc.callbacks; 17-33 ms held off, the one collection after the pass). See
        # codec.bulk.
        with collection_paused():
            evicted = self._evict_expired(now, compensation)
        if evicted:
            self.evicted_total += len(evicted)
            # ours: Eureka forgets this, and its threshold stays too high after evictions.
            self._adjust_expected_clients(-len(evicted))
            log.info("evicted %d expired leases", len(evicted))
            for listener in self._eviction_listeners:
                try:
                    listener(evicted)
                except Exception:
                    log.exception("eviction listener %r failed", listener)
        return evicted

    def _evict_expired(self, now: int, compensation: int) -> list[InstanceInfo]:
        """The removals of :meth:`evict`: the instances it evicted."""
        # The store hands over only the leases that ran out before the cut-off (without the
        # started_ms grace, which only shortens the list); the rule itself is applied here.
        found = self.store.expired(now - compensation)
        expired = [r for r in found.records if self._is_expired(r, now, compensation)]
        if not expired:
            return []
        size = found.total
        limit = size - int(size * self.config.renewal_percent_threshold)
        if len(expired) > limit:
            log.warning(
                "%d leases expired; evicting %d this run (cap of %d%%)",
                len(expired),
                limit,
                round((1 - self.config.renewal_percent_threshold) * 100),
            )
            # In a fixed order, so that one seed evicts the same leases from any store.
            expired.sort(key=_lease_key)
            expired = self._rng.sample(expired, limit)
        keys = [(r.instance.app, r.instance.instance_id) for r in expired]
        # The clock read again: the eviction time is when the leases go, after the scan.
        removed_ms = self.clock.now_ms()
        return self.store.remove_each(
            keys, self._deleted(removed_ms, expired_only=True), removed_ms
        )

    def prune_changes(self) -> int:
        """Drop changes older than the delta retention window."""
        return self.store.prune_changes(self.clock.now_ms() - self.config.delta_retention_ms)

    def roll_renewal_rate(self) -> None:
        """Close the renewals-per-minute bucket if a minute has passed (also done lazily)."""
        self._renews.roll(self.clock.now_ms())

    def close(self) -> None:
        """Close the store if the registry owns it (see the class docstring)."""
        if self._owns_store:
            self.store.close()
