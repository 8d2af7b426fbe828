"""Peers from DNS: a name (a Kubernetes headless Service, say) resolved again and again.

``--peer-dns NAME:PORT`` stands for one peer per address NAME resolves to, each at
``http://ADDRESS:PORT/eureka/`` (``https://NAME:PORT`` for HTTPS, and a path after the port
for another base path). :class:`DnsPeers` resolves every name now and then every
``interval_s``, and hands the replicator the set it found (:meth:`PeerReplicator.set_dns_peers`):
peers that appeared get replication from then on, peers that went away are stopped. This node's
own address is among them (it is behind the same Service) and is skipped as in a static list.

As Eureka's ``PeerEurekaNodes`` does when its list comes back empty, a name that cannot be
resolved or resolves to nothing leaves its peers as they were: a DNS outage must not cut a
node off from the whole cluster.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.errors import InvalidInput

__all__ = [
    "DEFAULT_DNS_INTERVAL_S",
    "DnsPeers",
    "PeerDnsName",
    "PeerSet",
    "Resolver",
    "system_resolver",
]

log = logging.getLogger(__name__)

#: Seconds between resolutions, as the issue asks (Eureka reads its peer list every 10 min).
DEFAULT_DNS_INTERVAL_S = 30.0

#: A name to its addresses (IPv4 or IPv6, as text); raises OSError when it cannot resolve.
Resolver = Callable[[str], Sequence[str]]


def system_resolver(name: str) -> list[str]:
    """The addresses ``name`` resolves to through the system (hosts file, DNS), each once."""
    infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True, slots=True)
class PeerDnsName:
    """One ``--peer-dns`` value: the name to resolve, and the URL each address makes."""

    name: str
    port: int
    scheme: str = "http"
    path: str = "/eureka/"

    @classmethod
    def parse(cls, text: str) -> PeerDnsName:
        """``NAME:PORT``, optionally ``https://`` before it and a base path after it.

        :raises InvalidInput: no name, no port, or a scheme other than http and https.
        """
        value = text.strip()
        shown = value if "://" in value else f"http://{value}"
        try:
            parts = urlsplit(shown)
            port = parts.port
        except ValueError:
            port = None
            parts = None
        if parts is None or parts.scheme not in ("http", "https"):
            raise InvalidInput(f"expected NAME:PORT or https://NAME:PORT, got {text!r}")
        if not parts.hostname or port is None:
            raise InvalidInput(f"expected NAME:PORT (a name to resolve and a port), got {text!r}")
        if parts.query or parts.fragment or parts.username:
            raise InvalidInput(f"expected NAME:PORT without query or credentials, got {text!r}")
        path = parts.path or "/eureka/"
        return cls(parts.hostname, port, parts.scheme, path if path.endswith("/") else path + "/")

    def endpoint(self, address: str) -> EurekaEndpoint:
        host = f"[{address}]" if ":" in address else address
        return EurekaEndpoint.parse(f"{self.scheme}://{host}:{self.port}{self.path}")

    def __str__(self) -> str:
        return f"{self.scheme}://{self.name}:{self.port}{self.path}"


class PeerSet(Protocol):
    """What :class:`DnsPeers` updates: the replicator's peers found through DNS."""

    def set_dns_peers(self, endpoints: Iterable[EurekaEndpoint]) -> None: ...


class DnsPeers:
    """Keeps ``peers`` (the replicator) in step with what ``names`` resolve to.

    :meth:`refresh` is one round (the first is made by :meth:`start`, before it returns);
    :meth:`start` then runs one every ``interval_s`` from a thread. ``resolver`` and ``wait``
    are injected by tests: ``wait(seconds)`` returns True once the refresher must stop (by
    default it waits on the stop event, for up to ``seconds``).
    """

    def __init__(
        self,
        peers: PeerSet,
        names: Sequence[PeerDnsName],
        *,
        resolver: Resolver = system_resolver,
        interval_s: float = DEFAULT_DNS_INTERVAL_S,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        self._peers = peers
        self.names = tuple(names)
        self._resolver = resolver
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._wait = wait if wait is not None else self._stop.wait
        self._thread: threading.Thread | None = None
        #: The addresses each name resolved to last (kept when a resolution fails).
        self._found: dict[PeerDnsName, tuple[str, ...]] = {}
        #: Rounds done; tests wait on it rather than sleep.
        self.rounds = 0
        self._round_done = threading.Condition()

    def refresh(self) -> None:
        """Resolve every name once and give the replicator the peers they make now."""
        for name in self.names:
            try:
                addresses = tuple(sorted(set(self._resolver(name.name))))
            except OSError as exc:
                log.warning(
                    "peer DNS: %s does not resolve (%s); peers kept as they were", name, exc
                )
                continue
            if not addresses:
                log.warning("peer DNS: %s resolves to nothing; peers kept as they were", name)
                continue
            if self._found.get(name) != addresses:
                log.info("peer DNS: %s resolves to %s", name, ", ".join(addresses))
            self._found[name] = addresses
        self._peers.set_dns_peers(
            name.endpoint(address)
            for name, addresses in self._found.items()
            for address in addresses
        )
        with self._round_done:
            self.rounds += 1
            self._round_done.notify_all()

    def wait_for_round(self, rounds: int, timeout_s: float) -> bool:
        """Block until :attr:`rounds` reaches ``rounds`` (for tests); False on time-out."""
        with self._round_done:
            return self._round_done.wait_for(lambda: self.rounds >= rounds, timeout_s)

    def start(self) -> DnsPeers:
        if self._thread is not None:
            raise RuntimeError("this DnsPeers has already started")
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="eureka-embed-peer-dns", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(5.0)

    def _run(self) -> None:
        while not self._wait(self.interval_s) and not self._stop.is_set():
            try:
                self.refresh()
            except Exception:
                # The refresher must outlive one bad round; the next one tries again.
                log.exception("peer DNS: refreshing the peers failed")
