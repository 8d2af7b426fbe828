"""The production transport: urllib3's pooled keep-alive connections.

urllib3 does the connection handling, TLS and gzip decoding; this module configures it
(time-outs, no retries and no redirects of its own, since the client's layers own those
policies) and maps its exceptions onto the client's error tree, here and nowhere else.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Callable

import urllib3
import urllib3.exceptions as u3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.response import BaseHTTPResponse

from eureka_embed.client.abort import current_abort_signal
from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.client.errors import (
    Aborted,
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    InvalidResponse,
    ReadTimeout,
)
from eureka_embed.client.transport import HttpRequest, HttpResponse, Transport, TransportFactory
from eureka_embed.errors import InvalidInput, TransportError

__all__ = ["Urllib3Transport", "map_error", "tls_context", "urllib3_transports"]

DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_READ_TIMEOUT_S = 8.0


class AbortableHTTPConnection(HTTPConnection):
    """Waits for its answer attached to the caller's armed
    :class:`~eureka_embed.client.abort.AbortSignal`, if any, so a stopping client can end it."""

    # urllib3 narrows http.client's return type the same way, and ignores it the same way.
    def getresponse(self) -> urllib3.HTTPResponse:  # type: ignore[override]
        return _abortably(self, super().getresponse)


class AbortableHTTPSConnection(HTTPSConnection):
    def getresponse(self) -> urllib3.HTTPResponse:  # type: ignore[override]
        return _abortably(self, super().getresponse)


def _abortably(
    connection: HTTPConnection, getresponse: Callable[[], urllib3.HTTPResponse]
) -> urllib3.HTTPResponse:
    signal = current_abort_signal()
    if signal is None:
        return getresponse()
    with signal.attached(connection):
        return getresponse()


class AbortableHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = AbortableHTTPConnection


class AbortableHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = AbortableHTTPSConnection


class Urllib3Transport(Transport):
    """HTTP(S) over a urllib3 ``PoolManager``: keep-alive pools per host, time-outs per request.

    ``max_connections_per_host`` bounds idle connections kept per server; more concurrent
    requests still go out, on connections that are closed afterwards. A request that holds
    (``hold_s``) gets that much more read time-out. An exchange made under an armed
    :class:`~eureka_embed.client.abort.AbortSignal` ends as a lost connection when the signal
    is given.
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
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._pool = urllib3.PoolManager(
            num_pools=8,
            maxsize=max_connections_per_host,
            timeout=self.timeout,
            # Retries and redirects are the client layers' job (across servers, remembering
            # targets); urllib3 retrying underneath would multiply every time-out.
            retries=False,
            ssl_context=ssl_context,
        )
        # The pool manager's own table of pool classes per scheme, replaced (not edited: the
        # default one is shared by every manager) by pools of abortable connections.
        self._pool.pool_classes_by_scheme = {
            "http": AbortableHTTPConnectionPool,
            "https": AbortableHTTPSConnectionPool,
        }

    def send(self, request: HttpRequest) -> HttpResponse:
        timeout = self.timeout
        if request.hold_s > 0:
            timeout = urllib3.Timeout(
                connect=self._connect_timeout_s, read=self._read_timeout_s + request.hold_s
            )
        try:
            answer: BaseHTTPResponse = self._pool.request(
                request.method,
                request.url,
                body=request.body,
                headers=dict(request.headers),
                redirect=False,
                retries=False,
                preload_content=True,
                decode_content=True,
                timeout=timeout,
            )
        except (u3.HTTPError, http.client.HTTPException, OSError) as exc:
            signal = current_abort_signal()
            if signal is not None and signal.aborted:
                raise Aborted(f"{request.method} {request.url}: aborted by the client") from exc
            raise map_error(exc, request) from exc
        headers = {name.lower(): value for name, value in answer.headers.items()}
        return HttpResponse(answer.status, headers, answer.data)

    def close(self) -> None:
        self._pool.clear()


def tls_context(
    ca_file: str | None = None, cert_file: str | None = None, key_file: str | None = None
) -> ssl.SSLContext | None:
    """How ``https://`` servers are verified and this client proves who it is, or None for
    the system's trust store and no client certificate.

    ``ca_file``: PEM certificates trusted instead of the system's (a private CA);
    ``cert_file`` (with ``key_file`` when the key is apart): the client certificate mutual TLS
    asks for.

    :raises ~eureka_embed.errors.InvalidInput: a file that cannot be read as PEM.
    """
    if ca_file is None and cert_file is None:
        if key_file is not None:
            raise InvalidInput("a client key needs its client certificate")
        return None
    try:
        context = ssl.create_default_context(cafile=ca_file)
        if cert_file is not None:
            context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        # The reason names the failing step, never a key's content.
        raise InvalidInput(f"cannot load the TLS files: {exc}") from None
    return context


def urllib3_transports(
    *,
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
    max_connections_per_host: int = 4,
    ca_file: str | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
) -> TransportFactory:
    """The default :data:`~eureka_embed.client.transport.TransportFactory`: a new urllib3
    pool for each server, with these time-outs and TLS files (see :func:`tls_context`).

    :raises ~eureka_embed.errors.InvalidInput: TLS files that cannot be loaded.
    """
    # One context for every server: loading the files once, and failing at once when bad.
    context = tls_context(ca_file, cert_file, key_file)

    def new_transport(endpoint: EurekaEndpoint) -> Transport:
        return Urllib3Transport(
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
            max_connections_per_host=max_connections_per_host,
            ssl_context=context,
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
