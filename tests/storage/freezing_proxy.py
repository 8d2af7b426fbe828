"""A loopback TCP proxy that can stop moving bytes without closing anything.

This is what a database behind a stalled network path, a hung load balancer or a frozen VM
looks like to a client: connections stay open (and new ones are accepted), but nothing that
is sent ever arrives and no answer ever comes back. The kernel still acknowledges the bytes
(they wait in the proxy's buffers), so TCP keepalives and TCP_USER_TIMEOUT notice nothing;
only a client-side deadline does.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class FreezingProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream``; :meth:`freeze` stops all traffic."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        self._acceptor.start()

    def freeze(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self._closed = True
        self._flowing.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._acceptor.join(5)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(
                    target=self._pump, args=(source, target), name="proxy-pump", daemon=True
                ).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self._flowing.wait()  # frozen: hold the bytes, read no more
                if self._closed:
                    return
                target.sendall(data)
        # One side closed: pass the close on (once traffic flows), as a real network would.
        self._flowing.wait()
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def freezing_proxy(upstream: tuple[str, int]) -> Iterator[FreezingProxy]:
    proxy = FreezingProxy(upstream)
    try:
        yield proxy
    finally:
        proxy.close()
