"""What can go wrong between the client and a Eureka server.

Every class here is a :class:`~eureka_embed.errors.TransportError`, so one ``except`` catches
any failed request::

    TransportError (eureka_embed.errors)
    ├── ConnectError            no connection: refused, unresolvable name, TLS handshake
    │   └── ConnectTimeout      no connection within the connect time-out
    ├── ReadTimeout             connected, but no answer within the read time-out
    ├── ConnectionLost          the connection broke in the middle of the exchange
    │   └── Aborted             ... because this client ended it (shutdown during a watch)
    ├── InvalidResponse         an answer that cannot be read (bad gzip, not Eureka JSON/XML)
    ├── RedirectError           a 302 chain that cannot be followed: loop, limit, bad Location
    ├── NoEndpoints             the resolver knows no server at all
    └── RetriesExhausted        every try failed; ``failures`` says why, endpoint by endpoint

An answer with an HTTP error status (404, 500, ...) is not an exception at the transport level:
it comes back as a :class:`~eureka_embed.client.response.EurekaResponse` and the retrying layer
decides what to do with it. Messages never carry credentials: endpoints are shown without
their user info.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eureka_embed.errors import TransportError

__all__ = [
    "Aborted",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionLost",
    "Failure",
    "InvalidResponse",
    "NoEndpoints",
    "ReadTimeout",
    "RedirectError",
    "RetriesExhausted",
    "TransportError",
]


class ConnectError(TransportError):
    """The server could not be reached: nothing was sent."""


class ConnectTimeout(ConnectError):
    """No connection within the connect time-out."""


class ReadTimeout(TransportError):
    """The request went out but no answer came within the read time-out; it may have applied."""


class ConnectionLost(TransportError):
    """The connection broke mid-exchange; the request may or may not have applied."""


class Aborted(ConnectionLost):
    """This client ended the exchange (an :class:`~eureka_embed.client.abort.AbortSignal`):
    not the server's fault, so no other server is tried and none is quarantined."""


class InvalidResponse(TransportError):
    """The server answered, but with something that cannot be read."""


class RedirectError(TransportError):
    """A redirect that cannot be followed: a loop, too many hops, or an unusable Location."""


class NoEndpoints(TransportError):
    """The endpoint resolver returned no Eureka server to talk to."""


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed try: the endpoint (without credentials) and what went wrong there."""

    endpoint: str
    #: The HTTP status of an answer that was not accepted, or None for an exception.
    status: int | None
    error: TransportError | None

    def __str__(self) -> str:
        what = f"HTTP {self.status}" if self.status is not None else repr(self.error)
        return f"{self.endpoint}: {what}"


class RetriesExhausted(TransportError):
    """Every try, on every endpoint tried, failed."""

    def __init__(self, reason: str, failures: Sequence[Failure]) -> None:
        details = "; ".join(str(f) for f in failures)
        super().__init__(f"{reason} ({details})" if details else reason)
        self.failures = tuple(failures)
