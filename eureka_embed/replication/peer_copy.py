"""Reading a peer's whole registry and taking instances from it: the start-up copy and the
reconciliation after a partition do both, and fail and log alike."""

from __future__ import annotations

import logging

from eureka_embed.client.errors import InvalidResponse
from eureka_embed.errors import EurekaError, TransportError
from eureka_embed.model import Applications, InstanceInfo
from eureka_embed.registry import Registry
from eureka_embed.replication.peer_client import describe_status
from eureka_embed.replication.peer_node import PeerNode

__all__ = ["adopt", "fetch_registry"]

log = logging.getLogger(__name__)


def fetch_registry(peer: PeerNode, purpose: str) -> Applications | None:
    """``peer``'s full registry, or None (logged, under ``purpose``) when it has none to give."""
    try:
        answer = peer.client.get_applications()
    except InvalidResponse as exc:
        log.warning("%s: unreadable registry from %s: %s", purpose, peer.url, exc.reason)
        return None
    except TransportError as exc:
        log.info("%s: %s did not answer (%s)", purpose, peer.url, exc.reason)
        return None
    if answer.status != 200 or answer.entity is None:
        log.info("%s: %s answered %s", purpose, peer.url, describe_status(answer.status))
        return None
    return answer.entity


def adopt(registry: Registry, instance: InstanceInfo, purpose: str) -> bool:
    """Register a peer's ``instance`` here as a replication (so it is not sent back).

    The registration rules still apply: a copy held here with a strictly newer
    lastDirtyTimestamp stays. False (logged) when the instance breaks a register rule.
    """
    try:
        registry.register(instance, replication=True)
    except EurekaError as exc:
        log.warning("%s: skipped %s/%s: %s", purpose, instance.app, instance.instance_id, exc)
        return False
    return True
