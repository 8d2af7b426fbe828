"""The session layer: a fresh inner client every so often.

Long-lived keep-alive connections pin a client to whichever server it first reached; behind a
load balancer, or after a failed server came back, load never spreads again. So, as Eureka does,
the whole inner stack (endpoint choice, quarantine, connections) is replaced after a session of
0.5-1.5 x the reconnect interval, randomised so a fleet does not reconnect all at once.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import TypeVar

from eureka_embed.client.contract import ClientLayer, EurekaHttpClient, Operation
from eureka_embed.client.response import EurekaResponse, RequestKind
from eureka_embed.clock import Clock, system_clock

__all__ = ["DEFAULT_RECONNECT_INTERVAL_S", "SessionedClient"]

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_RECONNECT_INTERVAL_S = 1200.0


class SessionedClient(ClientLayer):
    """Runs every operation on the current session's client from ``factory``.

    The first operation opens the first session. ``clock`` and ``rng`` are injectable so tests
    can move time and fix the randomisation.
    """

    def __init__(
        self,
        factory: Callable[[], EurekaHttpClient],
        *,
        reconnect_interval_s: float = DEFAULT_RECONNECT_INTERVAL_S,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if reconnect_interval_s <= 0:
            raise ValueError("reconnect_interval_s must be positive")
        self._factory = factory
        self._interval_ms = reconnect_interval_s * 1000
        self._clock = clock if clock is not None else system_clock
        self._rng = rng if rng is not None else random.Random()
        self._lock = threading.Lock()
        self._client: EurekaHttpClient | None = None
        self._session_start_ms = 0
        self._session_ms = 0.0
        self._closed = False

    @property
    def session_length_s(self) -> float:
        """How long the current session lasts in all (0 before the first one)."""
        return self._session_ms / 1000

    def _execute(self, kind: RequestKind, operation: Operation[T]) -> EurekaResponse[T]:
        return operation(self._current())

    def _current(self) -> EurekaHttpClient:
        expired: EurekaHttpClient | None = None
        with self._lock:
            if self._closed:
                raise RuntimeError("the client has been shut down")
            now = self._clock.now_ms()
            client = self._client
            if client is None or now - self._session_start_ms >= self._session_ms:
                expired = client
                client = self._client = self._factory()
                self._session_start_ms = now
                self._session_ms = self._interval_ms * (0.5 + self._rng.random())
        if expired is not None:
            log.debug("new session of %.0f s on %r", self.session_length_s, client)
            # A request still running on the old client finishes: urllib3 closes its connection
            # when it is handed back to the cleared pool.
            expired.shutdown()
        return client

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
        if client is not None:
            client.shutdown()
