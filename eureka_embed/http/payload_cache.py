"""A cache of built values, each valid for one version of the registry.

Eureka's response cache serves answers up to 30 s stale. Ours is keyed by the registry's change
sequence instead (SPEC section 3, *ours*): a reader that sees a newer sequence than the cached
one rebuilds, so a cached answer is never older than the request that reads it. Versions are
tuples compared in order; a value built for a *newer* version than a reader asks for is served
to it as well (it was built after the reader's version existed, so it is at least as fresh).

Each key has its own lock: under a burst of concurrent readers right after a change, one thread
builds and the others wait for its result instead of building the same payload again. The hit
path takes no lock at all: a slot's entry is replaced as a whole, never edited.

Keys include names from request paths (applications, VIPs), so the number of slots is bounded;
past the bound the oldest slot is dropped, which costs at most a rebuild.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from eureka_embed.blocking import may_block

__all__ = ["PayloadCache", "Version"]

V = TypeVar("V")

Version = tuple[int, ...]
"""What a value was built for: the change sequence, and for time-dependent answers a time bucket."""


class _Slot(Generic[V]):
    __slots__ = ("entry", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entry: tuple[Version, V] | None = None


class PayloadCache(Generic[V]):
    """Values per key, rebuilt at most once per version under concurrent readers."""

    def __init__(self, max_entries: int = 1024) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self._max_entries = max_entries
        self._slots: dict[Hashable, _Slot[V]] = {}
        self._lock = threading.Lock()
        #: How many times a builder ran (for tests and metrics).
        self.builds = 0

    def __len__(self) -> int:
        return len(self._slots)

    @property
    def max_entries(self) -> int:
        return self._max_entries

    def get(self, key: Hashable, version: Version, build: Callable[[], V]) -> V:
        """The value cached under ``key`` for ``version`` (or newer); else ``build()``'s."""
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slot(key)
        else:
            entry = slot.entry
            if entry is not None and entry[0] >= version:
                return entry[1]
        # A build, or a wait for another thread's: not on an event loop (see blocking.py).
        may_block()
        with slot.lock:
            entry = slot.entry
            if entry is not None and entry[0] >= version:
                return entry[1]
            value = build()
            slot.entry = (version, value)
        with self._lock:
            self.builds += 1
        return value

    def _slot(self, key: Hashable) -> _Slot[V]:
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                if len(self._slots) >= self._max_entries:
                    # Dicts keep insertion order: this drops the oldest slot.
                    del self._slots[next(iter(self._slots))]
                slot = self._slots[key] = _Slot()
            return slot

    def clear(self) -> None:
        with self._lock:
            self._slots.clear()
