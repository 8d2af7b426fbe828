"""HTTP Basic authentication against a :class:`~eureka_embed.auth.credentials.Credentials`.

Three things make it fit a registry's traffic:

- **The hot path stays hot.** A verified ``Authorization`` value is remembered under the
  interpreter's own hash of it: SipHash, keyed at random per process (unless PYTHONHASHSEED
  fixes the key), computed in C in well under a microsecond, where a BLAKE2 digest costs
  several times that on every heartbeat. The cache holds no password, only 64-bit digests; a
  header that is not the verified one matches one of them by chance with odds of about
  entries / 2**64 per try, and every try that misses is a counted failure. Failures are not
  remembered: each costs a KDF run, which is what the brute-force window bounds.
- **An unknown user costs what a wrong password costs**: it is checked against a dummy hash of
  the same cost, so timing does not tell which user names exist.
- **Brute force**: after ``max_failures`` failed checks from one client address within
  ``window_s``, requests with credentials from that address are answered 429 with
  ``Retry-After`` until the window ends, a correct password included; requests without
  credentials are only anonymous and have nothing to guess. Logged once per address and
  window, counted in ``/metrics``.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from eureka_embed.auth.credentials import Credentials, load_credentials
from eureka_embed.auth.passwords import PasswordHash, hash_password
from eureka_embed.auth.roles import Identity
from eureka_embed.blocking import may_block

__all__ = ["AuthStats", "BasicAuth", "Challenge", "Throttled"]

log = logging.getLogger("eureka_embed.auth")

DEFAULT_MAX_FAILURES: Final = 20
DEFAULT_WINDOW_S: Final = 60.0
#: Verified credentials remembered; past it the cache starts again (a fleet has a few users).
_CACHE_LIMIT: Final = 4096
#: Failure windows kept before expired ones are dropped.
_WINDOWS_LIMIT: Final = 10_000


@dataclass(frozen=True, slots=True)
class Challenge:
    """Credentials were sent and are wrong (or unreadable): answer 401."""

    reason: str


@dataclass(frozen=True, slots=True)
class Throttled:
    """The client address is over its failures: answer 429 after ``retry_after_s``."""

    retry_after_s: int


class AuthStats:
    """Counts for ``/metrics``: failed checks, and requests refused to throttled addresses."""

    def __init__(self) -> None:
        self.failures = 0
        self.throttled = 0


class _Window:
    __slots__ = ("failures", "logged", "started")

    def __init__(self, started: float) -> None:
        self.started = started
        self.failures = 0
        self.logged = False


class BasicAuth:
    """Checks ``Authorization: Basic`` values against ``credentials``.

    ``clock`` is monotonic seconds (injectable, so tests move time instead of sleeping).
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        max_failures: int = DEFAULT_MAX_FAILURES,
        window_s: float = DEFAULT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_failures < 1 or not window_s > 0:
            raise ValueError("max_failures must be at least 1 and window_s positive")
        self.credentials = credentials
        self.anonymous = Identity("anonymous", credentials.anonymous)
        self.stats = AuthStats()
        self._max_failures = max_failures
        self._window_s = window_s
        self._clock = clock
        self._verified: dict[int, Identity] = {}
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()
        # Same cost as the users' hashes: an unknown name takes as long as a wrong password.
        costs = [user.password.cost for user in credentials.users.values()]
        self._dummy = PasswordHash.parse(hash_password(os.urandom(16).hex(), *costs[:1]))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> BasicAuth:
        """:raises ~eureka_embed.errors.InvalidInput: see :func:`load_credentials`."""
        return cls(load_credentials(os.fspath(path)))

    def authenticate(
        self, authorization: str | None, client: str | None
    ) -> Identity | Challenge | Throttled:
        """Who sent ``authorization`` (None: :attr:`anonymous`) from address ``client``."""
        if authorization is None:
            return self.anonymous
        if self._windows:
            throttled = self._throttled(client)
            if throttled is not None:
                return throttled
        key = hash(authorization)  # see the module: a keyed digest, not the header
        known = self._verified.get(key)
        if known is not None:
            return known
        may_block()  # the KDF: on an event loop, the adapter reruns this in a thread
        identity = self._verify(authorization)
        if isinstance(identity, Challenge):
            self._failed(client)
            return identity
        if len(self._verified) >= _CACHE_LIMIT:
            self._verified.clear()
        self._verified[key] = identity
        return identity

    def _verify(self, authorization: str) -> Identity | Challenge:
        scheme, _, encoded = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            return Challenge("only Basic authentication is accepted")
        try:
            pair = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return Challenge("the Basic credentials are not base64 of user:password")
        name, sep, password = pair.partition(":")
        user = self.credentials.users.get(name) if sep else None
        if user is None:
            self._dummy.verify(password)
            return Challenge("wrong user name or password")
        if not user.password.verify(password):
            return Challenge("wrong user name or password")
        return user.identity

    def _throttled(self, client: str | None) -> Throttled | None:
        window = self._windows.get(client or "")
        if window is None or window.failures < self._max_failures:
            return None
        left = window.started + self._window_s - self._clock()
        if left <= 0:
            return None
        self.stats.throttled += 1
        return Throttled(max(1, int(left + 0.999)))

    def _failed(self, client: str | None) -> None:
        address = client or ""
        now = self._clock()
        with self._lock:
            window = self._windows.get(address)
            if window is None or now - window.started >= self._window_s:
                if len(self._windows) >= _WINDOWS_LIMIT:
                    self._prune(now)
                window = self._windows[address] = _Window(now)
            window.failures += 1
            self.stats.failures += 1
            over = window.failures >= self._max_failures and not window.logged
            if over:
                window.logged = True
        if over:
            log.warning(
                "%d failed logins from %s within %g s: its credentials are refused (429) "
                "until the window ends",
                self._max_failures,
                address or "an unknown address",
                self._window_s,
            )

    def throttled_addresses(self) -> int:
        """Client addresses whose credentials are refused now."""
        now = self._clock()
        with self._lock:
            return sum(
                1
                for w in self._windows.values()
                if w.failures >= self._max_failures and now - w.started < self._window_s
            )

    def _prune(self, now: float) -> None:
        for address, window in list(self._windows.items()):
            if now - window.started >= self._window_s:
                del self._windows[address]
