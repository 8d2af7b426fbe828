"""A token bucket: a burst of actions at once, then a steady rate.

Status changes are pushed to the server on demand; an application flapping between UP and
DOWN must not turn into a registration storm, so pushes beyond the rate wait for the next
periodic check, which sends the latest state anyway.
"""

from __future__ import annotations

import threading

from eureka_embed.clock import Clock, system_clock

__all__ = ["TokenBucket"]


class TokenBucket:
    """``capacity`` tokens, refilled at ``per_second``; starts full."""

    def __init__(self, capacity: int, per_second: float, clock: Clock | None = None) -> None:
        if capacity < 1 or per_second <= 0:
            raise ValueError("a token bucket needs a capacity >= 1 and a positive rate")
        self.capacity = capacity
        self.per_second = per_second
        self._clock = clock if clock is not None else system_clock
        self._lock = threading.Lock()
        self._tokens = float(capacity)
        self._refilled_ms = self._clock.now_ms()

    def try_acquire(self) -> bool:
        """Take a token if one is there; never waits."""
        with self._lock:
            now = self._clock.now_ms()
            elapsed_s = max(now - self._refilled_ms, 0) / 1000
            self._tokens = min(self.capacity, self._tokens + elapsed_s * self.per_second)
            self._refilled_ms = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True
