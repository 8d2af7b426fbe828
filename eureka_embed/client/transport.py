"""The HTTP exchange under the REST client: one request in, one response out.

A :class:`Transport` knows nothing of Eureka; the REST client builds requests and reads
answers. Production uses :class:`~eureka_embed.client.urllib3_transport.Urllib3Transport`;
tests use :class:`MockTransport` with a handler function, so every layer above runs without a
network. A transport raises only :class:`~eureka_embed.errors.TransportError` (subclasses in
:mod:`eureka_embed.client.errors`), and returns answers of every status as they are.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeAlias

from eureka_embed.client.endpoints import EurekaEndpoint

__all__ = [
    "Handler",
    "HttpRequest",
    "HttpResponse",
    "MockTransport",
    "Transport",
    "TransportFactory",
]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """``url`` is absolute and free of credentials; they travel in ``headers`` only.

    ``hold_s`` is how long the server may hold the answer on purpose (a watch's wait): the
    transport waits that much longer than its read time-out for this request only.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    hold_s: float = 0.0

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """An answer with its body already decompressed. Header names are lower case."""

    status: int
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    body: bytes = b""


class Transport(ABC):
    """Sends requests to HTTP servers, keeping connections alive between them."""

    @abstractmethod
    def send(self, request: HttpRequest) -> HttpResponse:
        """The server's answer, whatever its status.

        :raises ~eureka_embed.errors.TransportError: no answer, or an unreadable one.
        """

    @abstractmethod
    def close(self) -> None:
        """Close pooled connections. Idempotent."""


TransportFactory: TypeAlias = Callable[[EurekaEndpoint], Transport]
"""Makes a new transport for the server at an endpoint; whoever calls it closes what it made.

The client stacks call it once per server client (and again for each new session), peer
replication once per peer. A factory may ignore the endpoint, or answer per server.
"""

Handler = Callable[[HttpRequest], HttpResponse]


class MockTransport(Transport):
    """A transport that answers with ``handler(request)``: no sockets, for tests.

    The handler may raise a :class:`~eureka_embed.errors.TransportError` to play a network
    failure. Every request is kept in :attr:`requests`, in order. One mock may stand for
    many servers (the request URL tells which); closing it only sets :attr:`closed`, since the
    layers close per-server transports as they go.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[HttpRequest] = []
        self.closed = False
        self._lock = threading.Lock()

    def send(self, request: HttpRequest) -> HttpResponse:
        with self._lock:
            self.requests.append(request)
        return self.handler(request)

    def close(self) -> None:
        self.closed = True
