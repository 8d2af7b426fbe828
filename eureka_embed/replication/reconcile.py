"""Reconciliation (*ours*): a node that meets a peer again makes its registry agree with it.

Eureka leaves a node that was cut off from its peers to its leases: the writes it missed aged
out of the queues (30 s), and what differs stays until it expires (minutes, for a cancelled
instance still listed). Here a node reconciles with a peer when the peer becomes reachable
again after failures, and every ``reconcile_interval_s`` when the two apps hashcodes differ.

Reconciling with a peer is one read of its full registry, then, instance by instance:

- held there, not here: taken, unless this node cancelled it (the :class:`.CancelLog` holds a
  cancel no older than the copy: the peer is sent that Cancel instead), or removed it lately
  (the local delta lists it DELETED: an eviction here, and a live instance comes back with its
  next heartbeat anyway; taking it would pass a dead instance back and forth between nodes
  that evict at different moments);
- held on both: the peer's copy is taken when its lastDirtyTimestamp is newer (Eureka's rule);
  on equal ones, when its status differs and it changed later (its lastUpdatedTimestamp);
- held here, not there: nothing. The peer reconciles with this node too, and only it knows
  whether it cancelled the instance (then it sends the Cancel) or never had it (it takes it).

Each side thus only ever takes, or says what it cancelled; taken instances are registered as
replications, so nothing is forwarded on, and each node reconciles with each peer itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from eureka_embed.client.errors import InvalidResponse
from eureka_embed.errors import TransportError
from eureka_embed.events import WriteAction
from eureka_embed.model import ActionType, InstanceInfo
from eureka_embed.registry import Registry
from eureka_embed.replication.cancel_log import CancelLog
from eureka_embed.replication.peer_copy import adopt, fetch_registry
from eureka_embed.replication.peer_node import PeerNode
from eureka_embed.replication.wire import ReplicationItem

__all__ = ["ReconcilePlan", "Reconciler", "Reconciliation", "plan_reconciliation"]

log = logging.getLogger(__name__)

_PURPOSE = "reconciliation"

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ReconcilePlan:
    #: The peer's copies to register here.
    take: tuple[InstanceInfo, ...] = ()
    #: Instances the peer still holds that this node cancelled: the peer is sent the Cancel.
    cancel_there: tuple[Key, ...] = ()


@dataclass(frozen=True, slots=True)
class Reconciliation:
    peer: str
    taken: int
    cancels_sent: int


def _key(instance: InstanceInfo) -> Key:
    return instance.app.upper(), instance.instance_id


def plan_reconciliation(
    ours: Mapping[Key, InstanceInfo],
    theirs: Iterable[InstanceInfo],
    cancels: CancelLog,
    removed_here: Mapping[Key, int],
) -> ReconcilePlan:
    """What to do about a peer's registry ``theirs`` (the rules of the module docstring).

    ``ours``: this node's instances by (APP, id); ``removed_here``: the lastDirtyTimestamp of
    each instance the local delta lists as DELETED.
    """
    take: list[InstanceInfo] = []
    cancel_there: list[Key] = []
    for copy in theirs:
        key = _key(copy)
        mine = ours.get(key)
        if mine is None:
            if cancels.outranks(copy):
                cancel_there.append(key)
            elif removed_here.get(key, -1) < copy.last_dirty_timestamp:
                take.append(copy)
        elif copy.last_dirty_timestamp > mine.last_dirty_timestamp or (
            copy.last_dirty_timestamp == mine.last_dirty_timestamp
            and (copy.status, copy.overridden_status) != (mine.status, mine.overridden_status)
            and copy.last_updated_timestamp > mine.last_updated_timestamp
        ):
            take.append(copy)
    return ReconcilePlan(tuple(take), tuple(cancel_there))


class Reconciler:
    """Reconciles ``registry`` with ``peers`` from one thread: on :meth:`request`, and every
    ``interval_s`` with the peers whose hashcode differs. :meth:`reconcile` is the one step."""

    def __init__(
        self,
        registry: Registry,
        peers: Sequence[PeerNode],
        cancels: CancelLog,
        *,
        interval_s: float,
    ) -> None:
        self.registry = registry
        self.peers = tuple(peers)
        self.cancels = cancels
        self.interval_s = interval_s
        self._wanted: set[PeerNode] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Reconciliations that found something to change, and what they changed.
        self.reconciliations = 0
        self.taken = 0
        self.cancels_sent = 0

    def request(self, peer: PeerNode) -> None:
        """Reconcile with ``peer`` soon (from any thread; a peer's sender calls it)."""
        with self._lock:
            self._wanted.add(peer)
        self._wake.set()

    def reconcile(self, peer: PeerNode) -> Reconciliation | None:
        """Make this node agree with ``peer``; None when the peer's registry was unavailable."""
        theirs = fetch_registry(peer, _PURPOSE)
        if theirs is None:
            return None
        registry = self.registry
        ours = {_key(instance): instance for instance in registry.get_applications().instances()}
        removed_here = {
            _key(instance): instance.last_dirty_timestamp
            for instance in registry.get_delta().instances()
            if instance.action_type is ActionType.DELETED
        }
        plan = plan_reconciliation(ours, theirs.instances(), self.cancels, removed_here)
        # A cancel here since the snapshot above must still win: asked again per instance.
        taken = sum(
            adopt(registry, copy, _PURPOSE) for copy in plan.take if not self.cancels.outranks(copy)
        )
        for app, instance_id in plan.cancel_there:
            peer.enqueue(ReplicationItem(WriteAction.CANCEL, app, instance_id))
        result = Reconciliation(peer.url, taken, len(plan.cancel_there))
        if taken or plan.cancel_there:
            self.reconciliations += 1
            self.taken += taken
            self.cancels_sent += len(plan.cancel_there)
            log.info(
                "reconciled with %s: took %d instances, sent %d cancels",
                peer.url,
                taken,
                len(plan.cancel_there),
            )
        return result

    def differing_peers(self) -> list[PeerNode]:
        """The peers whose apps hashcode (read from their delta) differs from ours now."""
        differing = []
        for peer in self.peers:
            try:
                answer = peer.client.get_delta()
            except (InvalidResponse, TransportError):
                continue  # unreachable: its sender will ask for a reconciliation when back
            if answer.status != 200 or answer.entity is None:
                continue
            if answer.entity.apps_hashcode != self.registry.apps_hashcode():
                differing.append(peer)
        return differing

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("this Reconciler has already started")
        self._thread = threading.Thread(
            target=self._run, name="eureka-embed-reconciler", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(10.0)

    def _run(self) -> None:
        next_check = time.monotonic() + self.interval_s
        while not self._stop.is_set():
            self._wake.wait(max(next_check - time.monotonic(), 0.0))
            if self._stop.is_set():
                return
            self._wake.clear()
            with self._lock:
                wanted, self._wanted = self._wanted, set()
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + self.interval_s
                wanted.update(self.differing_peers())
            for peer in self.peers:  # in the configured order, each at most once
                if peer in wanted and not self._stop.is_set():
                    try:
                        self.reconcile(peer)
                    except Exception:
                        # This thread must outlive one bad exchange; the next check retries.
                        log.exception("reconciliation with %s failed", peer.url)
