"""The production transport: urllib3's pooled keep-alive connections.

urllib3 does the connection handling, TLS and gzip decoding; this module configures it
(time-outs, no retries and no redirects of its own, since the client's layers own those
policies) and maps its exceptions onto the client's error tree, here and nowhere else.
"""

from __future__ import annotations

import http.client
import ssl

import urllib3
import urllib3.exceptions as u3

from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.client.errors import (
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    InvalidResponse,
    ReadTimeout,
)
from eureka_embed.client.transport import HttpRequest, HttpResponse, Transport, TransportFactory
from eureka_embed.errors import TransportError

__all__ = ["Urllib3Transport", "map_error", "urllib3_transports"]

DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_READ_TIMEOUT_S = 8.0


class Urllib3Transport(Transport):
    """HTTP(S) over a urllib3 ``PoolManager``: keep-alive pools per host, time-outs per request.

    ``max_connections_per_host`` bounds idle connections kept per server; more concurrent
    requests still go out, on connections that are closed afterwards.
    """

    def __init__(
        self,
        *,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
        max_connections_per_host: int = 4,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.timeout = urllib3.Timeout(connect=connect_timeout_s, read=read_timeout_s)
        self._pool = urllib3.PoolManager(
            num_pools=8,
            maxsize=max_connections_per_host,
            timeout=self.timeout,
            # Retries and redirects are the client layers' job (across servers, remembering
            # targets); urllib3 retrying underneath would multiply every time-out.
            retries=False,
            ssl_context=ssl_context,
        )

    def send(self, request: HttpRequest) -> HttpResponse:
        try:
            answer = self._pool.request(
                request.method,
                request.url,
                body=request.body,
                headers=dict(request.headers),
                redirect=False,
                retries=False,
                preload_content=True,
                decode_content=True,
            )
        except (u3.HTTPError, http.client.HTTPException, OSError) as exc:
            raise map_error(exc, request) from exc
        headers = {name.lower(): value for name, value in answer.headers.items()}
        return HttpResponse(answer.status, headers, answer.data)

    def close(self) -> None:
        self._pool.clear()


def urllib3_transports(
    *,
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
    max_connections_per_host: int = 4,
) -> TransportFactory:
    """The default :data:`~eureka_embed.client.transport.TransportFactory`: a new urllib3
    pool for each server, with these time-outs."""

    def new_transport(endpoint: EurekaEndpoint) -> Transport:
        return Urllib3Transport(
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
            max_connections_per_host=max_connections_per_host,
        )

    return new_transport


def map_error(exc: BaseException, request: HttpRequest) -> TransportError:
    """The client error for what urllib3 (or the socket below it) raised."""
    where = f"{request.method} {request.url}"
    if isinstance(exc, u3.MaxRetryError) and exc.reason is not None:
        return map_error(exc.reason, request)
    # NewConnectionError subclasses ConnectTimeoutError for backwards compatibility, so the
    # refused or unresolvable connection has to be told apart from the slow one first.
    if isinstance(exc, u3.NewConnectionError):
        return ConnectError(f"{where}: cannot connect ({_cause(exc)})")
    if isinstance(exc, u3.ConnectTimeoutError):
        return ConnectTimeout(f"{where}: no connection within the connect time-out")
    if isinstance(exc, u3.ReadTimeoutError):
        return ReadTimeout(f"{where}: no answer within the read time-out")
    if isinstance(exc, u3.SSLError):
        return ConnectError(f"{where}: TLS failed ({_cause(exc)})")
    if isinstance(exc, u3.DecodeError):
        return InvalidResponse(f"{where}: the body cannot be decompressed ({_cause(exc)})")
    if isinstance(exc, (u3.ProtocolError, http.client.HTTPException, OSError)):
        return ConnectionLost(f"{where}: connection lost ({_cause(exc)})")
    return TransportError(f"{where}: {_cause(exc)}")


def _cause(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
