"""Peer service URLs: parsing the configured list and recognising this node in it.

Every node of a cluster is usually given the same list, itself included (as Spring's
``defaultZone`` is shared), so a node must find and skip itself. It is recognised by host and
port: ``127.0.0.1``, ``localhost``, any loopback address and this machine's host name are one
host (so are the addresses that host name resolves to), and a node listening on all
interfaces (``0.0.0.0``) is each of them. The path does not
matter: ``/eureka/`` and ``/eureka/v2/`` on one port are one node.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from eureka_embed.client.endpoints import EurekaEndpoint

__all__ = ["NodeAddress", "parse_peer_urls"]

_WILDCARDS = frozenset({"", "0.0.0.0", "::"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_peer_urls(values: Iterable[str]) -> tuple[EurekaEndpoint, ...]:
    """Peers from repeated values, each of which may be a comma-separated list; duplicates once.

    :raises ~eureka_embed.errors.InvalidInput: a URL that is not ``http(s)://host[:port]/...``.
    """
    seen: dict[str, EurekaEndpoint] = {}
    for value in values:
        for part in value.split(","):
            if part.strip():
                endpoint = EurekaEndpoint.parse(part)
                seen.setdefault(endpoint.url, endpoint)
    return tuple(seen.values())


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    port = parts.port if parts.port is not None else _DEFAULT_PORTS.get(parts.scheme, 80)
    return (parts.hostname or "").lower(), port


def _addresses_of(name: str) -> set[str]:
    """The addresses this machine's name resolves to: in a Kubernetes pod, the pod's own IP,
    which is how a headless Service's DNS names this node among its peers (:mod:`.peer_dns`)."""
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except OSError:
        return set()
    return {str(info[4][0]).lower() for info in infos}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class NodeAddress:
    """Where this node listens, to tell its own URL apart from its peers'."""

    host: str
    port: int
    #: This machine's names (by default its host name), which reach it like ``localhost``.
    local_names: frozenset[str] = frozenset()

    @classmethod
    def of(cls, host: str, port: int) -> NodeAddress:
        name = socket.gethostname().lower()
        return cls(host.strip().strip("[]").lower(), port, frozenset({name, *_addresses_of(name)}))

    def _is_local_name(self, host: str) -> bool:
        return _is_loopback(host) or host in self.local_names

    def is_self(self, url: str) -> bool:
        """True when ``url`` names this node (same port, and a host that reaches this node)."""
        host, port = _host_port(url)
        if port != self.port:
            return False
        if host == self.host:
            return True
        own_is_local = self.host in _WILDCARDS or self._is_local_name(self.host)
        return own_is_local and self._is_local_name(host)
