"""The standalone server on uvicorn: the registry's ASGI app, with its maintenance running.

:class:`UvicornServer` is :class:`~eureka_embed.server.EurekaServer` with uvicorn in place of
waitress: the same arguments, life cycle (``listen``, ``start``, ``serve_forever``, ``stop``),
ready line, drain on SIGTERM/SIGINT and maintenance (:class:`~eureka_embed.node.NodeDuties`).
``eureka-embed serve --server uvicorn`` runs it. Needs the ``asgi`` extra.

Why uvicorn's ``Server`` and not our own loop: it already drains as we want (stop accepting,
close idle keep-alive connections, let requests in flight finish within a bound). We replace
only its signal handling, which on the way out re-raises the signal it caught, so a SIGTERM'd
process would die of SIGTERM instead of exiting 0 as the waitress server does.

How the flags map (see README, "Choosing a server"):

- ``connection_limit`` is uvicorn's ``limit_concurrency``, which counts open connections (and
  requests in flight) when a request's headers have arrived: past it the request is answered
  503 with ``Connection: close``. uvicorn counts the connection asking, so we give it one more.
  The process's open-file limit is raised to fit, as for waitress.
- ``request_timeout`` has no uvicorn counterpart (it bounds idle keep-alive connections, not a
  request that trickles in); the command refuses a non-default value with ``--server uvicorn``.
- ``threads`` sizes the pool that runs what may block the event loop (writes, cache misses; see
  :mod:`eureka_embed.http.offload`); heartbeats and cached reads run on the loop.
- answers go out in one socket write each (:mod:`eureka_embed.uvicorn_one_write`, where
  httptools is installed), and ``serve`` sets the collector to :data:`GC_THRESHOLDS`: both
  for the thousands of watchers one change wakes (README, "Waking 5,000 watchers").
- ``tls`` (:class:`ServerTls`) is uvicorn's ``ssl_certfile``/``ssl_keyfile``, and with a client
  CA ``ssl_ca_certs`` with client certificates required (mutual TLS); the URLs announced are
  then ``https://``. waitress has no TLS: ``serve`` refuses the flags there.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import socket
import ssl
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any, Final

import uvicorn

from eureka_embed.asgi import create_app
from eureka_embed.auth.guard import AuthOption
from eureka_embed.errors import InvalidInput
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

if TYPE_CHECKING:
    from eureka_embed.remote_regions import RemoteRegions

__all__ = ["GC_THRESHOLDS", "KEEP_ALIVE_S", "ServerTls", "UvicornServer"]

log = logging.getLogger("eureka_embed.server")

#: Seconds an idle keep-alive connection is held. uvicorn's default of 5 s would close every
#: Eureka client's connection between two 30 s heartbeats; waitress holds them 120 s.
KEEP_ALIVE_S = 120
# Descriptors besides the connections: the store, log files, the loop's own.
_FD_RESERVE = 64


@dataclass(frozen=True, slots=True)
class ServerTls:
    """The node's certificate and key (PEM), and the CA whose client certificates it requires
    (mutual TLS; None: clients need none)."""

    cert_file: str
    key_file: str
    client_ca_file: str | None = None

    def check(self) -> None:
        """Load the files once, so that a bad one is refused with the reason before serving.

        :raises InvalidInput: a file that cannot be read, or a key that does not fit.
        """
        try:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.cert_file, self.key_file)
            if self.client_ca_file is not None:
                context.load_verify_locations(self.client_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidInput(
                f"cannot load the TLS certificate, key or client CA: {exc}"
            ) from None

    def uvicorn_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"ssl_certfile": self.cert_file, "ssl_keyfile": self.key_file}
        if self.client_ca_file is not None:
            options.update(ssl_ca_certs=self.client_ca_file, ssl_cert_reqs=ssl.CERT_REQUIRED)
        return options


def _http_protocol() -> Any:
    """Where httptools is installed, its protocol writing each answer in one socket write
    (:mod:`eureka_embed.uvicorn_one_write`); else uvicorn's choice (h11)."""
    try:
        from eureka_embed.uvicorn_one_write import OneWriteHttpToolsProtocol
    except ImportError:
        return "auto"
    return OneWriteHttpToolsProtocol


#: The collector's thresholds for a process serving with uvicorn (``serve --server uvicorn``).
#: Each of thousands of held connections keeps a few dozen objects alive (protocol, parser,
#: scope, task, coroutine); with Python's default of a young collection every 700 allocations
#: they are promoted and re-scanned by full collections over and over while a wake answers
#: them: sampled with py-spy, the collector took 12 % of the server's time waking 5,000
#: watchers. 50,000 allocations between young collections make that rare; the garbage of
#: cycles waiting for it is bounded by the same count.
GC_THRESHOLDS: Final = (50_000, 20, 20)


class _Server(uvicorn.Server):
    """uvicorn's server with our ready line, signal handling and report of unfinished work."""

    def __init__(
        self,
        config: uvicorn.Config,
        on_started: Callable[[], None],
        on_stopping: Callable[[], None],
    ) -> None:
        super().__init__(config)
        self._on_started = on_started
        self._on_stopping = on_stopping
        self.stop_signal: str | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # Installed by serve_forever instead (main thread only); nothing is re-raised.
        yield

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # No logging here: a signal handler must not take the locks logging takes.
        if self.should_exit:
            self.force_exit = True  # the second signal: stop waiting for requests in flight
        else:
            self.stop_signal = signal.Signals(sig).name
        self.should_exit = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.stop_signal is not None:
            log.info("%s received, stopping", self.stop_signal)
        # Held watches are answered now (with what they show), or they would hold the drain
        # for up to their wait.
        self._on_stopping()
        await super().shutdown(sockets)
        unfinished = sum(not task.done() for task in self.server_state.tasks)
        if unfinished:
            log.warning("stopping with %d request(s) unfinished", unfinished)


class UvicornServer:
    """The registry served over HTTP by uvicorn, with eviction and its other maintenance.

    Arguments as :class:`~eureka_embed.server.EurekaServer`'s, except: ``app`` is an ASGI app
    (by default ``eureka_embed.asgi.create_app(registry)``), ``threads`` sizes the pool for
    blocking work of the default app, and ``request_timeout`` is not taken (see the module);
    ``tls`` serves HTTPS (:class:`ServerTls`).

    :raises ~eureka_embed.errors.InvalidInput: TLS files that cannot be loaded.
    """

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        app: Any = None,
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int = 8,
        maintenance: bool = True,
        max_body_bytes: int = 1 << 20,
        connection_limit: int = 10_000,
        shutdown_timeout: float = 10.0,
        peers: Sequence[str] = (),
        replication: ReplicationSettings | None = None,
        peer_dns: Sequence[PeerDnsName] = (),
        peer_dns_interval_s: float = DEFAULT_DNS_INTERVAL_S,
        auth: AuthOption | None = None,
        fetch_limit: FetchRateLimit | None = None,
        remote_regions: RemoteRegions | None = None,
        tls: ServerTls | None = None,
    ) -> None:
        check_server_arguments(port=port, threads=threads, connection_limit=connection_limit)
        if tls is not None:
            tls.check()
        self._auth = auth
        self._fetch_limit = fetch_limit
        self._remote_regions = remote_regions
        self._tls = tls
        self._owns_registry = registry is None
        self.registry = registry if registry is not None else Registry()
        self._app = app
        self._host = host
        self._port = port
        self._threads = threads
        self._max_body_bytes = max_body_bytes
        self._connection_limit = connection_limit
        self._shutdown_timeout = shutdown_timeout
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
        self._sock: socket.socket | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._serving = False
        self._closed = False

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        """The port listened on (the requested one until the server listens)."""
        return int(self._sock.getsockname()[1]) if self._sock is not None else self._port

    @property
    def root_url(self) -> str:
        """``http://host:port``: the dashboard and ``/metrics`` live under it."""
        host = str(self._sock.getsockname()[0]) if self._sock is not None else self._host
        return root_url(host, self.port, "https" if self._tls is not None else "http")

    @property
    def base_url(self) -> str:
        """The Eureka service URL clients are given: ``http://host:port/eureka/``."""
        return f"{self.root_url}/eureka/"

    @property
    def running(self) -> bool:
        return self._serving and not self._closed

    # ------------------------------------------------------------------ life cycle

    def listen(self) -> UvicornServer:
        """Bind the listening socket now (see :meth:`EurekaServer.listen`); raises OSError."""
        if self._closed:
            raise RuntimeError("this UvicornServer has stopped; create a new one")
        if self._server is not None:
            return self
        self._sock = listen_socket(self._host, self._port)
        app = self._app
        if app is None:
            peers_status = self.replicator.peers_status if self.replicator else None
            app = create_app(
                self.registry,
                max_body_bytes=self._max_body_bytes,
                peers_status=peers_status,
                threads=self._threads,
                auth=self._auth,
                fetch_limit=self._fetch_limit,
                readiness=self._duties.readiness,
                server_kind="uvicorn",
                remote_regions=self._remote_regions,
            )
        limit = fd_bounded(self._connection_limit, _FD_RESERVE)
        config = uvicorn.Config(
            app,
            http=_http_protocol(),
            lifespan="off",
            # Logging is the command's (or the embedding application's): no config of uvicorn's.
            log_config=None,
            access_log=False,
            # uvicorn counts the connection asking among the open ones: one more serves `limit`.
            limit_concurrency=limit + 1,
            timeout_keep_alive=KEEP_ALIVE_S,
            timeout_graceful_shutdown=math.ceil(self._shutdown_timeout),
            server_header=False,
            h11_max_incomplete_event_size=64 * 1024,
            **(self._tls.uvicorn_options() if self._tls is not None else {}),
        )
        self._server = _Server(config, self._announce, self._end_watches)
        return self

    def start(self) -> UvicornServer:
        """Serve from a background thread; returns once it is ready for requests."""
        self._begin()
        self._thread = threading.Thread(
            target=self._serve, name=f"eureka-embed-uvicorn-{self.port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(20.0):
            raise RuntimeError("uvicorn did not start within 20 s")
        return self

    def serve_forever(self, *, handle_signals: bool = True) -> None:
        """Serve in this thread until :meth:`request_stop`, SIGTERM or SIGINT; then stop cleanly.

        The first signal drains (requests in flight get their answers, within
        ``shutdown_timeout``); a second one stops waiting for them.
        """
        if handle_signals and threading.current_thread() is not threading.main_thread():
            raise RuntimeError("handle_signals needs the main thread; pass handle_signals=False")
        self.listen()
        assert self._server is not None
        previous: dict[int, Any] = {}
        if handle_signals:
            # Handlers first: whoever sees the ready line may signal at once.
            handler = self._server.handle_exit
            previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._begin()
            self._serve()
        finally:
            for signum, old in previous.items():
                signal.signal(signum, old)

    def stop(self) -> None:
        """Stop serving: finish requests in flight, then close. Safe to call more than once."""
        self.request_stop()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(self._shutdown_timeout + 5.0)
        elif not self._serving and not self._closed:
            self._close()

    def wait_for_startup_copy(self, timeout: float | None = None) -> bool:
        """Block until the start-up copy from peers is over (``/readyz`` answers 503 until
        then); True at once without peers. False when ``timeout`` seconds passed first."""
        return self._duties.wait_for_startup_copy(timeout)

    def request_stop(self) -> None:
        """Ask the server to stop, and return at once; safe from any thread."""
        if self._server is not None:
            # uvicorn's main loop looks at the flag every 0.1 s.
            if self._server.should_exit:
                self._server.force_exit = True
            self._server.should_exit = True

    def __enter__(self) -> UvicornServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ internals

    def _begin(self) -> None:
        if self._serving or self._closed:
            raise RuntimeError("a UvicornServer serves once; create a new one")
        self.listen()
        self._serving = True
        self._duties.start(self.port)
        if self._app is None:
            warn_if_open(self._host, self._auth)

    def _announce(self) -> None:
        log.info("eureka-embed serving on %s", self.base_url)
        self._ready.set()

    def _end_watches(self) -> None:
        end_watches_of(self.registry.store)  # those of an app given to us as well

    def _serve(self) -> None:
        assert self._server is not None and self._sock is not None
        try:
            self._server.run(sockets=[self._sock])
        finally:
            self._ready.set()  # a failed start must not leave start() waiting
            self._close()

    def _close(self) -> None:
        try:
            if self._sock is not None:
                self._sock.close()
        finally:
            self._closed = True
            self._duties.stop()  # before the registry closes: the replication senders read it
            if self._owns_registry:
                self.registry.close()
            if self._serving:
                log.info("eureka-embed stopped")
