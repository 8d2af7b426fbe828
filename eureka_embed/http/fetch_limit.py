"""An optional limit on registry fetches, with the semantics of Eureka's ``RateLimitingFilter``.

Two token buckets of ``burst`` tokens each: every full or delta fetch takes one from the fetch
bucket (refilled at ``fetch_rate`` per second), and a full fetch also one from the full-fetch
bucket (``full_fetch_rate`` per second), since a full registry costs the server most. A fetch
that finds a bucket empty answers 503, which Eureka clients meet by trying their next server.

Privileged clients are never limited; they are told apart by the identity header Eureka's
clients send (``DiscoveryIdentity-Name``): Eureka's own ``DefaultClient`` and ``DefaultServer``
and the names in ``privileged_clients``. With ``throttle_standard_clients`` every client is
limited, those and the named ones included, as Eureka's ``rateLimiterThrottleStandardClients``
does.

The defaults are Eureka's (burst 10, fetches 500/s, full fetches 100/s). Unlike Eureka, which
also counts ``GET apps/{app}``, only full and delta fetches are limited: they are what a fleet of
clients repeats every 30 s.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

from eureka_embed.client.rate_limit import TokenBucket
from eureka_embed.client.rest import CLIENT_IDENTITY, IDENTITY_NAME_HEADER, SERVER_IDENTITY
from eureka_embed.clock import Clock
from eureka_embed.http.messages import EndpointRequest
from eureka_embed.http.outcomes import RETRY_AFTER_SECONDS, HttpRefusal, Outcome

__all__ = ["FetchLimiter", "FetchRateLimit"]

_STANDARD_CLIENTS: Final = frozenset({CLIENT_IDENTITY, SERVER_IDENTITY})
_IDENTITY_HEADER: Final = IDENTITY_NAME_HEADER.lower()


@dataclass(frozen=True, slots=True)
class FetchRateLimit:
    """What :class:`FetchLimiter` enforces (see the module docstring)."""

    burst: int = 10
    fetch_rate: float = 500.0
    full_fetch_rate: float = 100.0
    privileged_clients: Collection[str] = ()
    throttle_standard_clients: bool = False

    def __post_init__(self) -> None:
        if self.burst < 1:
            raise ValueError(f"the burst must be at least 1, got {self.burst}")
        if not (self.fetch_rate > 0 and self.full_fetch_rate > 0):
            raise ValueError("fetch rates must be positive numbers per second")


class FetchLimiter:
    """Admits or refuses each full and delta fetch by :class:`FetchRateLimit`."""

    def __init__(self, limit: FetchRateLimit, clock: Clock | None = None) -> None:
        self.limit = limit
        self._fetches = TokenBucket(limit.burst, limit.fetch_rate, clock)
        self._full_fetches = TokenBucket(limit.burst, limit.full_fetch_rate, clock)
        # Eureka's filter: throttling standard clients leaves no client privileged.
        self._privileged: frozenset[str] = (
            frozenset()
            if limit.throttle_standard_clients
            else frozenset(limit.privileged_clients) | _STANDARD_CLIENTS
        )
        #: Fetches refused so far, full and delta together.
        self.throttled = 0

    def admit(self, req: EndpointRequest, *, full: bool) -> None:
        """Let ``req`` through, or raise the 503 that refuses it.

        :raises HttpRefusal: the fetch rate is exhausted.
        """
        name = req.header(_IDENTITY_HEADER)
        if name is not None and name in self._privileged:
            return
        # Both buckets are asked, as Eureka asks both: a full fetch spends a token of each.
        allowed = self._fetches.try_acquire()
        if full:
            allowed = self._full_fetches.try_acquire() and allowed
        if not allowed:
            self.throttled += 1
            raise HttpRefusal(_THROTTLED)


_THROTTLED: Final = Outcome(
    503,
    "too many registry fetches: this server is rate limiting them; retry later or ask another "
    "server",
    (("Retry-After", str(RETRY_AFTER_SECONDS)),),
)
