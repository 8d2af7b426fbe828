"""The time source: epoch milliseconds.

The library never calls ``time.time`` directly: it asks a :class:`Clock`. The default one looks
``time.time`` up at every call, so freezegun's ``freeze_time`` moves it in tests without any
monkey-patching inside the library; tests that want full control pass a :class:`ManualClock`.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SystemClock", "system_clock"]


@runtime_checkable
class Clock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the epoch."""
        ...


class SystemClock:
    """Wall-clock time; follows freezegun because ``time.time`` is resolved on every call."""

    __slots__ = ()

    def now_ms(self) -> int:
        return int(time.time() * 1000)


class ManualClock:
    """A clock that only moves when told to: for tests and simulations."""

    __slots__ = ("_lock", "_now")

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now = start_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        return self._now

    def advance(self, *, seconds: float = 0, ms: int = 0) -> int:
        with self._lock:
            self._now += ms + int(seconds * 1000)
            return self._now

    def set(self, now_ms: int) -> None:
        self._now = now_ms


system_clock = SystemClock()
