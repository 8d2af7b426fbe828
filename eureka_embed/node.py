"""What every standalone server does besides HTTP: its socket, its open-file budget, and the
registry's maintenance and replication around the time it serves.

:class:`~eureka_embed.server.EurekaServer` (waitress) and
:class:`~eureka_embed.asgi_server.UvicornServer` differ only in how they run the HTTP loop;
both bind with :func:`listen_socket`, size their connection limit with :func:`fd_bounded`, and
run a :class:`NodeDuties` from the time they listen until after they stop.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from eureka_embed.http.probes import Readiness
from eureka_embed.maintenance import MaintenanceRunner
from eureka_embed.registry import Registry
from eureka_embed.replication import NodeAddress, PeerReplicator, ReplicationSettings
from eureka_embed.replication.peer_dns import (
    DEFAULT_DNS_INTERVAL_S,
    DnsPeers,
    PeerDnsName,
    Resolver,
    system_resolver,
)

if TYPE_CHECKING:
    from eureka_embed.remote_regions import RemoteRegions

__all__ = [
    "NodeDuties",
    "check_server_arguments",
    "fd_bounded",
    "is_loopback_host",
    "listen_socket",
    "root_url",
    "warn_if_open",
]

log = logging.getLogger("eureka_embed.server")


def check_server_arguments(*, port: int, threads: int, connection_limit: int) -> None:
    """Refuse what neither server can run with, with the reason.

    :raises ValueError: a port outside 0..65535, fewer than one thread or connection.
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be in 0..65535, got {port}")
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    if connection_limit < 1:
        raise ValueError(f"connection_limit must be at least 1, got {connection_limit}")


def fd_bounded(connection_limit: int, reserve: int) -> int:
    """``connection_limit``, or less when the process cannot open that many files.

    ``reserve`` is the descriptors needed besides the connections (the store, log files, the
    server's own pipes). Past the open-file limit every accept fails, so neither a connection
    nor its 503 could be answered. The soft limit is raised towards the hard one first (as Go's
    runtime does at start: the soft default of 1024 is a relic of select()); what still does
    not fit lowers the connection limit, and says so in the log.
    """
    try:
        import resource
    except ImportError:  # not on Windows
        return connection_limit
    needed = connection_limit + reserve
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (OSError, ValueError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return connection_limit
    bounded = max(int(soft) - reserve, 1)
    # INFO, not WARNING: test suites start many servers with the default limit, and serve
    # shows INFO at start, where an operator looks.
    log.info(
        "connection limit lowered from %d to %d: the process may open only %d files",
        connection_limit,
        bounded,
        soft,
    )
    return bounded


def listen_socket(host: str, port: int) -> socket.socket:
    """A listening socket on the first address of ``host`` that can be bound.

    We bind it ourselves rather than give the server host and port: for a name with several
    addresses (``localhost`` as ::1 and 127.0.0.1) servers bind each one, and with port 0
    each gets a different port, so there would be no single URL to announce. Trying the next
    address on failure keeps ``localhost`` working where IPv6 is off but still listed.
    """
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    first_error: OSError | None = None
    for family, _, _, _, address in infos:
        try:
            return socket.create_server(address[:2], family=family, backlog=1024)
        except OSError as exc:
            first_error = first_error or exc
    assert first_error is not None  # getaddrinfo returns at least one address or raises
    raise first_error


def root_url(host: str, port: int, scheme: str = "http") -> str:
    """``http://host:port`` (or ``https``), an IPv6 address in brackets."""
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def is_loopback_host(host: str) -> bool:
    """Whether a server bound to ``host`` is reachable from this machine only."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name, or "" / 0.0.0.0 (every interface)


def warn_if_open(host: str, auth: object | None) -> None:
    """Say so when a node anyone on the network can reach lets anyone write to it."""
    if auth is None and not is_loopback_host(host):
        log.warning(
            "listening on %s without authentication: anyone who can reach this node may "
            "register, deregister or take out of service any instance (see --auth)",
            host or "every interface",
        )


class NodeDuties:
    """The registry's maintenance, and with peers its replication, for one serving node;
    with ``remote_regions``, following them.

    ``start`` runs once the node listens: it starts replicating and, with peers, the start-up
    copy from a thread, so ``/readyz`` can answer 503 (and full and delta fetches 403, as
    Eureka) while it runs (:attr:`readiness`, for the app). With
    ``peer_dns`` the peers found through DNS join the static ones before the copy, and are
    followed every ``peer_dns_interval_s`` (:mod:`eureka_embed.replication.peer_dns`).
    ``stop`` runs after the node stopped serving, before the registry closes (the replication
    senders read it).
    """

    def __init__(
        self,
        registry: Registry,
        *,
        maintenance: bool,
        host: str,
        port: int,
        peers: Sequence[str],
        replication: ReplicationSettings | None,
        peer_dns: Sequence[PeerDnsName] = (),
        peer_dns_interval_s: float = DEFAULT_DNS_INTERVAL_S,
        resolver: Resolver = system_resolver,
        remote_regions: RemoteRegions | None = None,
    ) -> None:
        self.remote_regions = remote_regions
        self.maintenance = MaintenanceRunner(registry) if maintenance else None
        self.readiness = Readiness(registry.store)
        self.replicator: PeerReplicator | None = None
        self.dns_peers: DnsPeers | None = None
        self._host = host
        self._copy_thread: threading.Thread | None = None
        if peers or peer_dns:
            own = NodeAddress.of(host, port)
            self.replicator = PeerReplicator(registry, peers, own_address=own, settings=replication)
        if peer_dns and self.replicator is not None:
            self.dns_peers = DnsPeers(
                self.replicator, peer_dns, resolver=resolver, interval_s=peer_dns_interval_s
            )

    def start(self, port: int) -> None:
        """Once listening on ``port`` (the bound one, when 0 was asked for)."""
        if self.replicator is not None:
            # The port is known only now: a node on port 0 must still recognise itself.
            self.replicator.own_address = NodeAddress.of(self._host, port)
            self.replicator.start()
            self.readiness.begin_copy()  # before the loop serves: no probe may see 200 first
            self._copy_thread = threading.Thread(
                target=self._copy, name="eureka-embed-startup-copy", daemon=True
            )
            self._copy_thread.start()
        if self.maintenance is not None:
            self.maintenance.start()
        if self.remote_regions is not None:
            self.remote_regions.start()

    def _copy(self) -> None:
        assert self.replicator is not None
        try:
            if self.dns_peers is not None:
                self.readiness.copy_progress("resolving the peers' DNS names")
                self.dns_peers.start()
            self.replicator.copy_registry(self.readiness.copy_progress)
        except Exception:
            log.exception("start-up copy failed; serving this node's own registry")
        finally:
            self.readiness.end_copy()

    def wait_for_startup_copy(self, timeout: float | None = None) -> bool:
        """Block until the start-up copy is over (at once without peers, or before
        :meth:`start`); False when ``timeout`` seconds passed first."""
        thread = self._copy_thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def stop(self) -> None:
        if self.remote_regions is not None:
            self.remote_regions.stop()
        if self.maintenance is not None:
            self.maintenance.stop()
        if self._copy_thread is not None:
            # A peer's read time-out bounds one attempt; the registry closes after this.
            self._copy_thread.join(10.0)
        if self.dns_peers is not None:
            self.dns_peers.stop()
        if self.replicator is not None:
            self.replicator.stop()
