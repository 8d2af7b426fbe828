"""The retry layer: up to three tries across the resolved servers, with a quarantine.

As Eureka's client does: a server that answered well is kept (pinned) for the next requests;
one that failed, by an exception or a status that says "try elsewhere", is dropped and joins a
quarantine set that later candidate lists skip. When the quarantine holds too large a share of
the servers (0.66 of them, truncated as Eureka truncates it), it is cleared: better to try
again servers that failed a while ago than to have nothing left to try.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from eureka_embed.client.contract import ClientLayer, EurekaHttpClient, Operation
from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.client.errors import Aborted, Failure, NoEndpoints, RetriesExhausted
from eureka_embed.client.resolvers import EndpointResolver
from eureka_embed.client.response import EurekaResponse, RequestKind
from eureka_embed.errors import TransportError

__all__ = [
    "DEFAULT_MAX_TRIES",
    "DEFAULT_QUARANTINE_REFRESH_FRACTION",
    "EndpointClientFactory",
    "RetryingClient",
    "try_elsewhere",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MAX_TRIES = 3
DEFAULT_QUARANTINE_REFRESH_FRACTION = 0.66

EndpointClientFactory = Callable[[EurekaEndpoint], EurekaHttpClient]
StatusRule = Callable[[RequestKind, int], bool]


def try_elsewhere(kind: RequestKind, status: int) -> bool:
    """Whether an answer means "this server cannot serve it now; ask another".

    Server errors (5xx) and 429 do. So does 403 to a registry read: a server that has not
    finished copying the registry from its peers refuses reads (SPEC section 5) while another
    can answer. A 403 to the delta (polled or watched) means deltas are disabled; the client
    falls back to a full fetch instead. Every other status is the answer (404 included: the
    server does not know the instance, and the client registers again).
    """
    if status >= 500 or status == 429:
        return True
    return status == 403 and kind.is_read and kind not in _DELTAS


_DELTAS = (RequestKind.GET_DELTA, RequestKind.GET_DELTA_WATCH)


class RetryingClient(ClientLayer):
    """Runs each operation on a pinned server, or on up to ``max_tries`` candidates in turn.

    ``factory`` makes the client for one server (in the standard stack: redirecting, metrics,
    REST). ``status_rule`` says which answers count as failures (default
    :func:`try_elsewhere`). When every try fails the operation raises
    :class:`RetriesExhausted`; with no server at all, :class:`NoEndpoints`.
    """

    def __init__(
        self,
        resolver: EndpointResolver,
        factory: EndpointClientFactory,
        *,
        max_tries: int = DEFAULT_MAX_TRIES,
        quarantine_refresh_fraction: float = DEFAULT_QUARANTINE_REFRESH_FRACTION,
        status_rule: StatusRule = try_elsewhere,
    ) -> None:
        if max_tries < 1:
            raise ValueError("max_tries must be at least 1")
        if not 0 < quarantine_refresh_fraction <= 1:
            raise ValueError("quarantine_refresh_fraction must be in (0, 1]")
        self._resolver = resolver
        self._factory = factory
        self._max_tries = max_tries
        self._refresh_fraction = quarantine_refresh_fraction
        self._try_elsewhere = status_rule
        self._lock = threading.Lock()
        self._pinned: tuple[EurekaEndpoint, EurekaHttpClient] | None = None
        self._quarantine: set[EurekaEndpoint] = set()

    @property
    def quarantined(self) -> frozenset[str]:
        """URLs of the servers skipped for now."""
        with self._lock:
            return frozenset(e.url for e in self._quarantine)

    @property
    def pinned(self) -> str | None:
        """URL of the server the next request goes to first, if one answered well."""
        pinned = self._pinned
        return pinned[0].url if pinned is not None else None

    def _execute(self, kind: RequestKind, operation: Operation[T]) -> EurekaResponse[T]:
        failures: list[Failure] = []
        candidates: Sequence[EurekaEndpoint] | None = None
        next_candidate = 0
        for _ in range(self._max_tries):
            pinned = self._pinned
            if pinned is not None:
                endpoint, client = pinned
            else:
                if candidates is None:
                    candidates = self._candidates()
                    if not candidates:
                        raise NoEndpoints("no Eureka server is known: the resolver gave none")
                if next_candidate >= len(candidates):
                    break
                endpoint = candidates[next_candidate]
                next_candidate += 1
                client = self._factory(endpoint)
            try:
                response = operation(client)
            except Aborted:
                raise  # the caller ended it: no fault of the server's, nothing to retry
            except TransportError as exc:
                log.warning("%s on %s failed: %s", kind, endpoint.url, exc.reason)
                failures.append(Failure(endpoint.url, None, exc))
            else:
                if not self._try_elsewhere(kind, response.status):
                    self._pin(endpoint, client)
                    return response
                log.warning("%s on %s answered %d", kind, endpoint.url, response.status)
                failures.append(Failure(endpoint.url, response.status, None))
            self._drop(endpoint, client)
        raise RetriesExhausted(f"{kind} failed on every server tried", failures)

    def _candidates(self) -> Sequence[EurekaEndpoint]:
        endpoints = list(self._resolver.endpoints())
        with self._lock:
            self._quarantine.intersection_update(endpoints)
            if not self._quarantine:
                return endpoints
            threshold = int(len(endpoints) * self._refresh_fraction)
            if len(self._quarantine) >= threshold:
                log.info(
                    "%d of %d servers quarantined; clearing the quarantine",
                    len(self._quarantine),
                    len(endpoints),
                )
                self._quarantine.clear()
                return endpoints
            return [e for e in endpoints if e not in self._quarantine]

    def _pin(self, endpoint: EurekaEndpoint, client: EurekaHttpClient) -> None:
        with self._lock:
            previous = self._pinned
            if previous is not None and previous[1] is client:
                return
            self._pinned = (endpoint, client)
        if previous is not None:
            previous[1].shutdown()

    def _drop(self, endpoint: EurekaEndpoint, client: EurekaHttpClient) -> None:
        with self._lock:
            self._quarantine.add(endpoint)
            if self._pinned is not None and self._pinned[1] is client:
                self._pinned = None
        client.shutdown()

    def shutdown(self) -> None:
        with self._lock:
            pinned, self._pinned = self._pinned, None
        if pinned is not None:
            pinned[1].shutdown()
