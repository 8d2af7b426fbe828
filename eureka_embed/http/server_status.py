"""What the server reports about itself: ``GET status`` and the dashboard read the same snapshot.

``GET status`` leads with Eureka's ``StatusInfo`` fields, as Eureka's ``StatusResource`` serves
them: ``generalStats`` (``server-uptime``, ``environment``, ``num-of-cpus``,
``total-avail-memory``, ``current-memory-usage``, strings as Eureka writes them),
``applicationStats`` (``registered-replicas``, ``available-replicas``,
``unavailable-replicas``: the peers' service URLs, comma-separated), ``instanceInfo`` (this
server) and ``isHealthy`` (the verdict of ``/readyz``); our own fields follow beside them.
"""

from __future__ import annotations

import logging
import os
import socket
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
    #: Why the node is not ready (``/readyz``'s reason), else None.
    not_ready: str | None = None

    @classmethod
    def collect(
        cls, registry: Registry, peers_status: PeersStatus | None, *, not_ready: str | None = None
    ) -> ServerStatus:
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
            not_ready=not_ready,
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
            "generalStats": _general_stats(self.uptime_ms),
            "applicationStats": _replica_stats(self.peers),
            "instanceInfo": _this_server(),
            "isHealthy": self.not_ready is None,
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
        if self.not_ready is not None:
            tree["notReady"] = self.not_ready
        return tree


def _general_stats(uptime_ms: int) -> dict[str, str]:
    """Eureka's ``generalStats``; memory is this process's resident set against the machine's."""
    used_mb = _resident_mb()
    total_mb = _physical_mb()
    percent = f" ({round(used_mb * 100 / total_mb)}%)" if total_mb else ""
    return {
        "server-uptime": _eureka_uptime(uptime_ms),
        "environment": os.environ.get("EUREKA_EMBED_ENVIRONMENT", "default"),
        "num-of-cpus": str(os.cpu_count() or 1),
        "total-avail-memory": f"{total_mb}mb",
        "current-memory-usage": f"{used_mb}mb{percent}",
    }


def _eureka_uptime(ms: int) -> str:
    """Eureka's ``server-uptime``: ``2 days 03:04`` (hours and minutes)."""
    minutes = ms // 60_000
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    prefix = "" if days == 0 else "1 day " if days == 1 else f"{days} days "
    return f"{prefix}{hours:02d}:{minutes:02d}"


def _resident_mb() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 1_048_576
    except (OSError, ValueError, IndexError):  # not Linux: the peak is what is known
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _physical_mb() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 1_048_576
    except (OSError, ValueError):
        return 0


def _replica_stats(peers: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Eureka's ``applicationStats``: registered peers ", "-joined, the others "url," each."""
    urls = [str(peer.get("url", "")) for peer in peers]
    available = [str(peer.get("url", "")) for peer in peers if peer.get("status") == "UP"]
    unavailable = [url for url in urls if url not in available]
    return {
        "registered-replicas": ", ".join(urls),
        "available-replicas": "".join(f"{url}," for url in available),
        "unavailable-replicas": "".join(f"{url}," for url in unavailable),
    }


def _this_server() -> dict[str, str]:
    """``instanceInfo``: this server as an instance (Eureka's own ``InstanceInfo``, in brief)."""
    host = socket.gethostname()
    return {"hostName": host, "app": "EUREKA", "status": "UP"}


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
