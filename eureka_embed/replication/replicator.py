"""PeerReplicator: forwards every write this node accepted from a client to every peer.

It listens to the registry. A write a client made here (``replication=False``) becomes one task
per peer; a write a peer sent (``replication=True``) was already forwarded by the node that
took it from the client, so it stops here. In a full mesh every node thus receives each write
exactly once, and nothing loops.

Writes that could not reach a peer for longer than the queue keeps them are made up by a
:class:`.Reconciler` (when the peer is back, and when hashcodes differ), which needs the
cancels this node saw (a :class:`.CancelLog`, fed by the same listener).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from eureka_embed.asg_status import AsgStatus
from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.client.transport import TransportFactory
from eureka_embed.events import RegistryEvent
from eureka_embed.registry import Registry
from eureka_embed.replication.cancel_log import CancelLog
from eureka_embed.replication.peer_client import describe_status
from eureka_embed.replication.peer_node import PeerNode, PeerStatus
from eureka_embed.replication.peer_urls import NodeAddress, parse_peer_urls
from eureka_embed.replication.reconcile import Reconciler
from eureka_embed.replication.settings import ReplicationSettings
from eureka_embed.replication.startup_copy import CopyResult, copy_registry_from_peers
from eureka_embed.replication.wire import ReplicationItem

__all__ = ["PeerReplicator"]

log = logging.getLogger(__name__)


class PeerReplicator:
    """Replicates ``registry``'s client writes to ``peers`` (URLs, comma-separated or not).

    ``own_address`` (where this node listens) lets the same peer list be given to every node:
    this node's own entry is left out. ``transport_factory`` makes each peer's transport (one
    each, closed on stop); by default a urllib3 pool with the peer time-outs.

    Use :meth:`copy_registry` before serving (or, as the standalone servers do, :meth:`start`
    first and copy while serving, with ``/readyz`` and full fetches refused meanwhile: see
    :class:`~eureka_embed.node.NodeDuties`); :meth:`stop` at the end (or use it as a context
    manager, which starts and stops). :meth:`set_dns_peers` changes the peers found through DNS
    at any time (:mod:`.peer_dns`).
    """

    def __init__(
        self,
        registry: Registry,
        peers: Iterable[str | EurekaEndpoint],
        *,
        own_address: NodeAddress | None = None,
        settings: ReplicationSettings | None = None,
        transport_factory: TransportFactory | None = None,
    ) -> None:
        self.registry = registry
        self.settings = settings if settings is not None else ReplicationSettings()
        self.own_address = own_address
        self._transport_factory = transport_factory
        self._peers_lock = threading.Lock()
        endpoints = self._not_self(_endpoints(peers))
        self._static_urls = frozenset(e.url for e in endpoints)
        #: Replaced whole (never changed in place) when DNS peers change: a reader iterates
        #: over the tuple it read.
        self.peers: tuple[PeerNode, ...] = tuple(self._new_peer(e) for e in endpoints)
        self.cancels = CancelLog(
            registry.clock,
            retention_ms=round(self.settings.cancel_retention_s * 1000),
            capacity=self.settings.cancel_log_capacity,
        )
        self.reconciler = Reconciler(
            registry, self.peers, self.cancels, interval_s=self.settings.reconcile_interval_s
        )
        self._started = False
        self._reconciler_started = False
        self._stopped = False
        # ASG states go to peers one request each, as Eureka sends them, off the request thread.
        self._asg_sender = ThreadPoolExecutor(1, thread_name_prefix="eureka-embed-asg")

    def _not_self(self, endpoints: Iterable[EurekaEndpoint]) -> list[EurekaEndpoint]:
        own_address = self.own_address  # set again by a server once it knows its port
        if own_address is None:
            return list(endpoints)
        kept = []
        for endpoint in endpoints:
            if own_address.is_self(endpoint.url):
                log.info("peer %s is this node; not replicating to it", endpoint.url)
            else:
                kept.append(endpoint)
        return kept

    def _new_peer(self, endpoint: EurekaEndpoint) -> PeerNode:
        return PeerNode(
            endpoint,
            self.registry,
            settings=self.settings,
            transport_factory=self._transport_factory,
            on_back=self._peer_back,
        )

    def copy_registry(self, on_peer: Callable[[str], None] | None = None) -> CopyResult:
        """The start-up copy from the first peer that answers (see :mod:`.startup_copy`);
        ``on_peer`` is told which peer is asked, as it happens."""
        return copy_registry_from_peers(self.registry, self.peers, on_peer)

    def set_dns_peers(self, endpoints: Iterable[EurekaEndpoint]) -> None:
        """Make the peers found through DNS exactly ``endpoints`` (:mod:`.peer_dns`).

        Static peers stay whatever DNS says, and this node's own address is skipped. A new
        peer gets the writes made from now on and nothing else (as Eureka's
        ``PeerEurekaNodes`` on an update; a reconciliation follows when hashcodes differ). A
        peer gone from DNS is stopped: its sender closes after a short best-effort flush.
        """
        wanted = {e.url: e for e in self._not_self(_endpoints(endpoints))}
        with self._peers_lock:
            if self._stopped:
                return
            current = {peer.url: peer for peer in self.peers}
            added = [
                self._new_peer(endpoint)
                for url, endpoint in wanted.items()
                if url not in current and url not in self._static_urls
            ]
            removed = [
                peer
                for url, peer in current.items()
                if url not in wanted and url not in self._static_urls
            ]
            kept = tuple(peer for peer in self.peers if peer not in removed)
            self.peers = kept + tuple(added)
            self.reconciler.peers = self.peers
            if self._started:
                for peer in added:
                    peer.start()
                if self.peers:
                    self._start_reconciler()
        for peer in added:
            log.info("peer DNS: replicating to %s from now on", peer.url)
        for peer in removed:
            log.info("peer DNS: %s is gone; no longer replicating to it", peer.url)
            peer.stop()  # outside the lock: a flush may take up to stop_flush_s

    def start(self) -> PeerReplicator:
        if self._started:
            raise RuntimeError("this PeerReplicator has already started")
        self._started = True
        self.registry.add_listener(self.on_write)
        self.registry.add_asg_listener(self.on_asg_status)
        with self._peers_lock:
            for peer in self.peers:
                peer.start()
            if self.peers:
                self._start_reconciler()
                log.info("replicating to %s", ", ".join(peer.url for peer in self.peers))
        return self

    def _start_reconciler(self) -> None:
        if not self._reconciler_started:
            self._reconciler_started = True
            self.reconciler.start()

    def stop(self) -> None:
        """Stop listening, flush briefly, stop every sender. Safe to call more than once."""
        with self._peers_lock:
            if self._stopped:
                return
            self._stopped = True
        self.registry.remove_listener(self.on_write)
        self.registry.remove_asg_listener(self.on_asg_status)
        self._asg_sender.shutdown(wait=True)
        self.reconciler.stop()
        for peer in self.peers:
            peer.queue.close()  # every peer starts its final flush at once
        for peer in self.peers:
            peer.stop()

    def __enter__(self) -> PeerReplicator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def on_write(self, event: RegistryEvent) -> None:
        """The registry listener :meth:`start` installs: queue ``event`` for every peer."""
        self.cancels.on_write(event)  # replicated cancels too: this node saw them happen
        if event.replication:
            return
        item = ReplicationItem.from_event(event)
        for peer in self.peers:
            peer.enqueue(item)

    def on_asg_status(self, asg_name: str, status: AsgStatus, replication: bool) -> None:
        """The ASG listener :meth:`start` installs: send a state set here to every peer."""
        if not replication:
            for peer in self.peers:
                self._asg_sender.submit(_send_asg_status, peer, asg_name, status)

    def _peer_back(self, peer: PeerNode) -> None:
        self.reconciler.request(peer)

    def statuses(self) -> list[PeerStatus]:
        return [peer.status() for peer in self.peers]

    def peers_status(self) -> Sequence[dict[str, Any]]:
        """For ``create_app(peers_status=...)``: ``GET status``, the dashboard and metrics."""
        return [status.to_dict() for status in self.statuses()]


def _endpoints(peers: Iterable[str | EurekaEndpoint]) -> list[EurekaEndpoint]:
    """Each peer once, in the order given; strings may hold comma-separated lists."""
    endpoints: dict[str, EurekaEndpoint] = {}
    for peer in peers:
        parsed = (peer,) if isinstance(peer, EurekaEndpoint) else parse_peer_urls([peer])
        for endpoint in parsed:
            endpoints.setdefault(endpoint.url, endpoint)
    return list(endpoints.values())


def _send_asg_status(peer: PeerNode, asg_name: str, status: AsgStatus) -> None:
    """One attempt; a peer that misses it learns the state from the operator's next change."""
    try:
        response = peer.client.asg_status_update(asg_name, status)
    except Exception as exc:
        log.warning("could not send ASG %s %s to %s: %s", asg_name, status, peer.url, exc)
        return
    if not response.ok:
        log.warning(
            "%s refused ASG %s %s: %s",
            peer.url,
            asg_name,
            status,
            describe_status(response.status),
        )
