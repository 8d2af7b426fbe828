"""What the server reports about itself: ``GET status`` and the dashboard read the same snapshot."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import orjson

from eureka_embed.codec import WireFormat
from eureka_embed.codec.readers import XML_ILLEGAL_CHARS, XML_NAME
from eureka_embed.model import Application, InstanceStatus
from eureka_embed.registry import Registry

__all__ = ["PeersStatus", "ServerStatus", "encode_status", "format_duration"]

log = logging.getLogger("eureka_embed.http")

_REPLACEMENT = "\ufffd"

PeersStatus = Callable[[], Sequence[Mapping[str, Any]]]
"""Reports the peer nodes, one mapping each (e.g. ``{"url": ..., "status": "UP"}``)."""


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """One consistent look at the registry's health, taken at ``now_ms``."""

    now_ms: int
    started_ms: int
    self_preservation_enabled: bool
    lease_expiration_enabled: bool
    renews_threshold: int
    renews_last_minute: int
    expected_clients: int
    evicted_total: int
    applications: tuple[Application, ...]
    peers: tuple[Mapping[str, Any], ...]
    #: Why the peer list could not be read (the callback failed), else None.
    peers_error: str | None = None

    @classmethod
    def collect(cls, registry: Registry, peers_status: PeersStatus | None) -> ServerStatus:
        peers: tuple[Mapping[str, Any], ...] = ()
        peers_error = None
        if peers_status is not None:
            try:
                peers = tuple(peers_status())
            except Exception:
                # The status page must stay up when peer bookkeeping breaks: it is how
                # an operator finds out.
                log.exception("the peers_status callback failed")
                peers_error = "peer status unavailable (see the server log)"
        return cls(
            now_ms=registry.clock.now_ms(),
            started_ms=registry.started_ms,
            self_preservation_enabled=registry.config.self_preservation,
            lease_expiration_enabled=registry.is_lease_expiration_enabled(),
            renews_threshold=registry.renewal_threshold(),
            renews_last_minute=registry.renews_last_minute(),
            expected_clients=registry.expected_clients,
            evicted_total=registry.evicted_total,
            applications=registry.get_applications().applications,
            peers=peers,
            peers_error=peers_error,
        )

    @property
    def uptime_ms(self) -> int:
        return max(self.now_ms - self.started_ms, 0)

    @property
    def self_preservation_active(self) -> bool:
        return not self.lease_expiration_enabled

    def instances_by_status(self) -> dict[str, int]:
        """Instance counts for every status, zeros included, in a fixed order."""
        counts = {status.value: 0 for status in InstanceStatus}
        for app in self.applications:
            for instance in app.instances:
                counts[instance.status.value] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        by_status = self.instances_by_status()
        tree: dict[str, Any] = {
            "uptimeMs": self.uptime_ms,
            "uptime": format_duration(self.uptime_ms),
            "startedAt": self.started_ms,
            "selfPreservationEnabled": self.self_preservation_enabled,
            "selfPreservationActive": self.self_preservation_active,
            "leaseExpirationEnabled": self.lease_expiration_enabled,
            "renewsThreshold": self.renews_threshold,
            "renewsLastMinute": self.renews_last_minute,
            "expectedClients": self.expected_clients,
            "evictedTotal": self.evicted_total,
            "applications": len(self.applications),
            "instances": sum(by_status.values()),
            "instancesByStatus": by_status,
            "peers": [dict(peer) for peer in self.peers],
        }
        if self.peers_error is not None:
            tree["peersError"] = self.peers_error
        return tree


def format_duration(ms: int) -> str:
    """``3d 04:05:06``-style uptime, days only when there are some."""
    seconds = ms // 1000
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{days}d {clock}" if days else clock


def encode_status(status: ServerStatus, fmt: WireFormat) -> bytes:
    """``{"status": {...}}`` or ``<status>...</status>``."""
    tree = status.to_dict()
    if fmt is WireFormat.JSON:
        return orjson.dumps({"status": tree}, default=str, option=orjson.OPT_NON_STR_KEYS)
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    _write_xml(out, "status", tree)
    return "".join(out).encode("utf-8")


def _write_xml(out: list[str], tag: str, value: Any) -> None:
    if isinstance(value, Mapping):
        out.append(f"<{tag}>")
        for key, item in value.items():
            # Peer mappings come from the caller: keys that are no XML name are left out
            # rather than breaking the document.
            if isinstance(key, str) and XML_NAME.fullmatch(key):
                _write_xml(out, key, item)
        out.append(f"</{tag}>")
    elif isinstance(value, list):
        out.append(f"<{tag}>")
        for item in value:
            _write_xml(out, tag.removesuffix("s") or "item", item)
        out.append(f"</{tag}>")
    elif isinstance(value, bool):
        out.append(f"<{tag}>{'true' if value else 'false'}</{tag}>")
    else:
        out.append(f"<{tag}>{escape(XML_ILLEGAL_CHARS.sub(_REPLACEMENT, str(value)))}</{tag}>")
