"""Peer replication: Eureka servers as peers, batched, loop-free, settled by lastDirtyTimestamp.

A node with peers copies the registry from one of them at start-up
(:meth:`PeerReplicator.copy_registry`), then forwards every write a client makes on it to every
peer, in batches (:class:`PeerReplicator`, one :class:`PeerNode` with its own sender thread per
peer, speaking HTTP through :class:`PeerEurekaHttpClient`, the REST client with the replication
header and the batch call). After a partition, a node reconciles with each peer it meets
again (:class:`Reconciler`, *ours*). Peers apply what they receive as replicated writes
(:class:`ReplicationReceiver`, served at ``POST peerreplication/batch/`` by
:func:`eureka_embed.wsgi.create_app`) and never forward those again. Conflicts settle on the
newer lastDirtyTimestamp, as in Eureka (SPEC section 5)::

    replicator = PeerReplicator(registry, ["http://eureka-b:8761/eureka/"])
    replicator.copy_registry()
    app = create_app(registry, peers_status=replicator.peers_status)
    with replicator:
        ...  # serve app
"""

from __future__ import annotations

from eureka_embed.protocol import REPLICATION_HEADER
from eureka_embed.replication.cancel_log import CancelLog
from eureka_embed.replication.peer_client import PeerEurekaHttpClient
from eureka_embed.replication.peer_node import PeerNode, PeerStatus
from eureka_embed.replication.peer_urls import NodeAddress, parse_peer_urls
from eureka_embed.replication.receiver import ReplicationReceiver
from eureka_embed.replication.reconcile import Reconciler, Reconciliation
from eureka_embed.replication.replicator import PeerReplicator
from eureka_embed.replication.settings import ReplicationSettings
from eureka_embed.replication.startup_copy import CopyResult, copy_registry_from_peers
from eureka_embed.replication.task_queue import ReplicationTask, TaskQueue
from eureka_embed.replication.wire import (
    BATCH_PATH,
    InvalidItem,
    ItemResult,
    ReplicationItem,
    decode_batch,
    decode_results,
    encode_batch,
    encode_results,
)

__all__ = [
    "BATCH_PATH",
    "REPLICATION_HEADER",
    "CancelLog",
    "CopyResult",
    "InvalidItem",
    "ItemResult",
    "NodeAddress",
    "PeerEurekaHttpClient",
    "PeerNode",
    "PeerReplicator",
    "PeerStatus",
    "Reconciler",
    "Reconciliation",
    "ReplicationItem",
    "ReplicationReceiver",
    "ReplicationSettings",
    "ReplicationTask",
    "TaskQueue",
    "copy_registry_from_peers",
    "decode_batch",
    "decode_results",
    "encode_batch",
    "encode_results",
    "parse_peer_urls",
]
