"""The standalone server: the registry's WSGI app on waitress, with its maintenance running.

:class:`EurekaServer` runs two ways: ``eureka-embed serve`` calls its ``serve_forever`` in the
main thread until SIGTERM or SIGINT, and tests call its ``start`` to serve from a background
thread on a free port.

Why not waitress's own ``server.run()``: it only ends when KeyboardInterrupt or SystemExit is
raised inside its loop, and then the loop that writes responses is gone, so requests in flight
lose their answers. We run the same wasyncore loop one poll at a time instead: a stop can be
asked from any thread or a signal handler (it sets a flag and wakes the loop through waitress's
trigger pipe), and the loop then drains: it stops accepting, lets requests being received or
run finish and their responses flush, and closes idle keep-alive connections.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

# waitress ships no type hints; whether types-waitress is installed or not, its objects are
# used as Any here (the stubs mistype some attributes this module reads).
from waitress import wasyncore  # type: ignore[import-untyped, unused-ignore]

from eureka_embed.auth.guard import AuthOption
from eureka_embed.clock import Clock, system_clock
from eureka_embed.connection_guard import (
    MAX_LINGERING_REFUSALS,
    ConnectionLimits,
    GuardedServer,
    adjustments,
)
from eureka_embed.http.fetch_limit import FetchRateLimit
from eureka_embed.http.watches import end_watches_of
from eureka_embed.node import (
    NodeDuties,
    check_server_arguments,
    fd_bounded,
    listen_socket,
    root_url,
    warn_if_open,
)
from eureka_embed.registry import Registry
from eureka_embed.replication import PeerReplicator, ReplicationSettings
from eureka_embed.replication.peer_dns import DEFAULT_DNS_INTERVAL_S, PeerDnsName
from eureka_embed.wsgi import create_app

if TYPE_CHECKING:
    from eureka_embed.remote_regions import RemoteRegions

__all__ = [
    "DEFAULT_CONNECTION_LIMIT",
    "DEFAULT_REQUEST_TIMEOUT_S",
    "DEFAULT_THREADS",
    "EurekaServer",
    "default_max_watchers",
]

log = logging.getLogger(__name__)

DEFAULT_THREADS = 8
#: Open connections a node holds; a DiscoveryClient keeps two (registration and query). At
#: Eureka's 30 s intervals, 5,000 clients is about what waitress's single loop thread keeps up
#: with (measured, see the README); past it a refusal that makes clients fail over is better
#: than every client's answer slowing down.
DEFAULT_CONNECTION_LIMIT = 10_000


def default_max_watchers(threads: int) -> int:
    """Watching reads held at once by default: a quarter of the worker threads, at least one.

    Each holds a thread until its view changes or its wait ends; the other threads stay free
    for heartbeats and registrations, which must never queue behind watchers.
    """
    return max(1, threads // 4)


#: Seconds a request may take to arrive whole, headers and body, from its first byte.
DEFAULT_REQUEST_TIMEOUT_S = 30.0

# How long one poll of the loop may block. Stops wake the loop at once through the trigger pipe,
# so this only bounds how late waitress's idle-connection cleanup (run from the poll) can be.
_POLL_TIMEOUT_S = 1.0
_DRAIN_POLL_S = 0.05


def _waitress_settings(threads: int, max_body_bytes: int) -> dict[str, Any]:
    return {
        "threads": threads,
        # A full registry of 10k instances is about 10 MB of JSON. waitress spools any response
        # above outbuf_overflow (1 MB by default) to a temporary file; keep these in memory.
        "outbuf_overflow": 32 << 20,
        "outbuf_high_watermark": 64 << 20,
        # Bodies we accept at all (registrations, replication batches) stay in memory too, and
        # anything larger is refused by waitress with 413 before the app reads it.
        "inbuf_overflow": max_body_bytes,
        "max_request_body_size": max_body_bytes,
        # Keep reading a few requests ahead while one runs, so waitress notices a client that
        # went away; Eureka clients do not pipeline, so this never queues much.
        "channel_request_lookahead": 4,
        # select() cannot watch descriptors above 1024; poll() can.
        "asyncore_use_poll": True,
        "ident": "eureka-embed",
    }


# Descriptors besides the connections: the store, log files, the trigger pipe, spooled buffers,
# and the refused connections kept open a moment to deliver their 503.
_FD_RESERVE = 64 + MAX_LINGERING_REFUSALS


class EurekaServer:
    """The registry served over HTTP by waitress, with eviction and its other maintenance.

    ``registry`` defaults to a new in-memory one, which the server then closes when it stops;
    a registry passed in belongs to the caller. ``app`` replaces the WSGI app served, by default
    ``create_app(registry)``: give your own to serve the Eureka app mounted inside a larger one
    (the server still runs the registry's maintenance).

    ``port=0`` picks a free port; :attr:`port` and :attr:`base_url` tell which once listening.
    A server serves once: start (or serve_forever), then stop. ``shutdown_timeout`` bounds how
    long a stop waits for requests in flight.

    ``connection_limit`` bounds the open connections, idle keep-alive ones included (each
    DiscoveryClient keeps two); a connection past it is answered 503 at once, so its client
    asks another node. ``request_timeout`` bounds the seconds from a request's first byte until
    it has arrived whole; a slower one is answered 408 and closed. Refusals and time-outs are
    logged at most once a minute of ``clock`` time, with their count (see
    :mod:`eureka_embed.connection_guard`).

    ``peers`` (service URLs, comma-separated or not; this node's own is recognised and skipped)
    make it a node of a replicating cluster: once it listens, it copies the registry from the
    first peer that answers (``/readyz`` answers 503 and full and delta fetches 403 until then,
    see :class:`~eureka_embed.node.NodeDuties`), and forwards the writes its clients make to
    every peer while it serves (see :mod:`eureka_embed.replication`; the default app shows
    them in ``GET status``).
    ``peer_dns`` adds the peers names resolve to, resolved again every ``peer_dns_interval_s``
    (:mod:`eureka_embed.replication.peer_dns`).

    ``max_watchers`` bounds the watching reads (``?index=``) the default app holds at once,
    each on a worker thread, by default :func:`default_max_watchers` of ``threads``; one more
    is answered at once, so heartbeats always find a thread. Held watches are answered when
    the server stops, so they never hold up its drain.

    ``remote_regions`` are followed while it serves (started after it listens, stopped
    before it closes) and served to reads with ``?regions=`` by the default app.

    ``auth`` and ``fetch_limit`` are the default app's (see :func:`eureka_embed.wsgi.create_app`);
    without ``auth``, a server bound to an address other than loopback logs a warning saying it
    is open.
    """

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        app: Callable[..., Iterable[bytes]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int = DEFAULT_THREADS,
        maintenance: bool = True,
        max_body_bytes: int = 1 << 20,
        connection_limit: int = DEFAULT_CONNECTION_LIMIT,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
        shutdown_timeout: float = 10.0,
        peers: Sequence[str] = (),
        replication: ReplicationSettings | None = None,
        peer_dns: Sequence[PeerDnsName] = (),
        peer_dns_interval_s: float = DEFAULT_DNS_INTERVAL_S,
        clock: Clock = system_clock,
        max_watchers: int | None = None,
        auth: AuthOption | None = None,
        fetch_limit: FetchRateLimit | None = None,
        remote_regions: RemoteRegions | None = None,
    ) -> None:
        check_server_arguments(port=port, threads=threads, connection_limit=connection_limit)
        if max_watchers is not None and max_watchers < 0:
            raise ValueError(f"max_watchers must not be negative, got {max_watchers}")
        if not request_timeout > 0:
            raise ValueError(f"request_timeout must be a positive number, got {request_timeout}")
        self._owns_registry = registry is None
        self.registry = registry if registry is not None else Registry()
        self._app = app
        self._auth = auth
        self._fetch_limit = fetch_limit
        self._remote_regions = remote_regions
        self._host = host
        self._port = port
        self._settings = _waitress_settings(threads, max_body_bytes)
        self._connection_limit = connection_limit
        self._request_timeout = request_timeout
        self._clock = clock
        self._max_body_bytes = max_body_bytes
        self._max_watchers = default_max_watchers(threads) if max_watchers is None else max_watchers
        self._duties = NodeDuties(
            self.registry,
            maintenance=maintenance,
            host=host,
            port=port,
            peers=peers,
            replication=replication,
            peer_dns=peer_dns,
            peer_dns_interval_s=peer_dns_interval_s,
            remote_regions=remote_regions,
        )
        self.replicator: PeerReplicator | None = self._duties.replicator
        self._shutdown_timeout = shutdown_timeout
        self._map: dict[int, Any] = {}
        self._server: Any = None
        self._bound: tuple[str, int] | None = None
        self._thread: threading.Thread | None = None
        self._serving = False
        self._closed = False
        # Plain attributes, not Events: a signal handler sets them, and must not block on locks.
        self._stop_requested = False
        self._abort_drain = False
        self._stop_signal: str | None = None
        # Guards the trigger pipe against a wake-up racing its close: by then the descriptor
        # number could belong to another file.
        self._trigger_lock = threading.Lock()

    # ------------------------------------------------------------------ addresses

    @property
    def max_watchers(self) -> int:
        """Watching reads the default app holds at once (see the class docstring)."""
        return self._max_watchers

    @property
    def port(self) -> int:
        """The port listened on (the requested one until the server listens)."""
        return self._bound[1] if self._bound is not None else self._port

    @property
    def root_url(self) -> str:
        """``http://host:port``: the dashboard and ``/metrics`` live under it."""
        return root_url(self._bound[0] if self._bound is not None else self._host, self.port)

    @property
    def base_url(self) -> str:
        """The Eureka service URL clients are given: ``http://host:port/eureka/``."""
        return f"{self.root_url}/eureka/"

    @property
    def running(self) -> bool:
        """True from start (or serve_forever) until stopped."""
        return self._serving and not self._closed

    # ------------------------------------------------------------------ life cycle

    def listen(self) -> EurekaServer:
        """Bind the listening socket now; start and serve_forever do it if you have not.

        Binding first lets a caller report a port in use before anything else starts, and learn
        :attr:`port` when it asked for 0. Raises :class:`OSError` when it cannot bind. With
        peers, the start-up copy begins once it serves (``/readyz`` answers 503 until it ends).
        """
        if self._closed:
            raise RuntimeError("this EurekaServer has stopped; create a new one")
        if self._server is not None:
            return self
        sock: socket.socket | None = None
        try:
            sock = listen_socket(self._host, self._port)
            # Any: typeshed's WSGI protocol and Falcon's __call__ spell start_response differently.
            app: Any = self._app
            if app is None:
                peers_status = self.replicator.peers_status if self.replicator else None
                app = create_app(
                    self.registry,
                    max_body_bytes=self._max_body_bytes,
                    peers_status=peers_status,
                    max_watchers=self._max_watchers,
                    auth=self._auth,
                    fetch_limit=self._fetch_limit,
                    readiness=self._duties.readiness,
                    server_kind="waitress",
                    remote_regions=self._remote_regions,
                )
            limits = ConnectionLimits(
                fd_bounded(self._connection_limit, _FD_RESERVE), self._request_timeout
            )
            self._server = GuardedServer(
                app,
                sock,
                socket_map=self._map,
                adj=adjustments(**self._settings),
                limits=limits,
                clock=self._clock,
            )
        except BaseException:
            if sock is not None:
                sock.close()
            raise
        # waitress logs "Task queue depth" for every request that waits for a worker thread:
        # routine under load (connections outnumber threads), and a flood in the logs.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        self._bound = (str(self._server.effective_host), int(self._server.effective_port))
        return self

    def start(self) -> EurekaServer:
        """Serve from a background thread; returns at once, ready for requests."""
        self._begin()
        self._thread = threading.Thread(
            target=self._serve, name=f"eureka-embed-server-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self, *, handle_signals: bool = True) -> None:
        """Serve in this thread until :meth:`request_stop`, SIGTERM or SIGINT; then stop cleanly.

        With ``handle_signals`` (main thread only), the first SIGTERM or SIGINT stops the server
        gracefully; a second one stops waiting for requests in flight.
        """
        if handle_signals and threading.current_thread() is not threading.main_thread():
            raise RuntimeError("handle_signals needs the main thread; pass handle_signals=False")
        # Handlers first: whoever sees the ready line may signal at once.
        previous = self._install_signal_handlers() if handle_signals else {}
        try:
            self._begin()
            self._serve()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def stop(self) -> None:
        """Stop serving: finish requests in flight, then close. Safe to call more than once."""
        self.request_stop()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(self._shutdown_timeout + 5.0)
            if thread.is_alive():
                log.warning("server thread did not stop within %.1f s", self._shutdown_timeout)
        elif not self._serving and not self._closed:
            self._close()  # it listened (or did nothing) but never served

    def wait_for_startup_copy(self, timeout: float | None = None) -> bool:
        """Block until the start-up copy from peers is over (``/readyz`` answers 503 until
        then); True at once without peers. False when ``timeout`` seconds passed first."""
        return self._duties.wait_for_startup_copy(timeout)

    def request_stop(self) -> None:
        """Ask the serving loop to stop, and return at once; safe from any thread."""
        self._request_stop(blocking=True)

    def __enter__(self) -> EurekaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ internals

    def _begin(self) -> None:
        if self._serving or self._closed:
            raise RuntimeError("a EurekaServer serves once; create a new one")
        self.listen()
        self._serving = True
        self._duties.start(self.port)
        if self._app is None:
            warn_if_open(self._host, self._auth)
        log.info("eureka-embed serving on %s", self.base_url)

    def _request_stop(self, *, blocking: bool) -> None:
        if self._stop_requested:
            self._abort_drain = True
        self._stop_requested = True
        # A signal handler runs in the main thread, which may itself hold the lock (closing);
        # it must not wait for it, and need not: the loop is stopping then anyway.
        if not self._trigger_lock.acquire(blocking=blocking):
            return
        try:
            if self._server is not None and not self._closed:
                # One os.write on waitress's trigger pipe wakes the loop's poll.
                self._server.pull_trigger()
        finally:
            self._trigger_lock.release()

    def _serve(self) -> None:
        try:
            while not self._stop_requested:
                wasyncore.loop(timeout=_POLL_TIMEOUT_S, map=self._map, use_poll=True, count=1)
                self._server.tick()
            if self._stop_signal is not None:
                log.info("%s received, stopping", self._stop_signal)
            self._drain()
        finally:
            self._close()

    def _drain(self) -> None:
        server = self._server
        # Held watches answer now (with what they have), or the drain would wait out their
        # waits, up to minutes; new ones are answered at once. Also those of an app given in.
        end_watches_of(self.registry.store)
        # Close the listening socket first, so new connections are refused at once instead of
        # waiting in the backlog of a server that will not read them. The base class's close:
        # waitress's own close() also closes the trigger, which the drain still needs.
        server.accepting = False
        wasyncore.dispatcher.close(server)
        deadline = time.monotonic() + self._shutdown_timeout
        while True:
            running = 0
            for channel in list(server.active_channels.values()):
                # Busy: a request being received (a register whose body is still arriving),
                # queued or running, or a response not yet flushed to the client.
                if channel.request is not None or channel.requests or channel.total_outbufs_len:
                    running += 1
                else:
                    channel.handle_close()  # an idle keep-alive connection
            if not running:
                return
            if self._abort_drain or time.monotonic() >= deadline:
                log.warning("stopping with %d request(s) unfinished", running)
                return
            wasyncore.loop(timeout=_DRAIN_POLL_S, map=self._map, use_poll=True, count=1)
            server.tick()  # a request trickling in must not hold the stop either

    def _close(self) -> None:
        try:
            if self._server is not None:
                self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=1.0)
            with self._trigger_lock:
                self._closed = True
                wasyncore.close_all(self._map)
        finally:
            self._duties.stop()  # before the registry closes: the replication senders read it
            if self._owns_registry:
                self.registry.close()
            if self._serving:
                log.info("eureka-embed stopped")

    def _install_signal_handlers(self) -> dict[int, Any]:
        def on_signal(signum: int, frame: FrameType | None) -> None:
            # No logging here: it takes locks the interrupted code may hold. _serve reports it.
            self._stop_signal = signal.Signals(signum).name
            self._request_stop(blocking=False)

        handler: Callable[[int, FrameType | None], None] = on_signal
        return {
            signum: signal.signal(signum, handler) for signum in (signal.SIGTERM, signal.SIGINT)
        }
