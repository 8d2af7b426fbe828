"""Reading many instances at once: the garbage collector held off, and values shared.

A registry payload of 100k instances becomes about three million Python objects in one go
(orjson's tree, then the model objects), none of them garbage. CPython's collector counts
allocations, not garbage: while they are made it runs a young collection every 700 objects
and, as the heap grows by a quarter, full ones that walk every object of the process, the
registry the client already holds included. Measured on the bench registry, that was a third
of a full decode and a third of a SQLite node start. :func:`collection_paused` holds automatic
collection off around such a read; what was made is examined once by the next collection,
as it would have been, but no longer again and again while it is being made. Nothing about
what is collected changes: cycles made meanwhile wait for that next collection.

:func:`shared_port` and :func:`shared_text` keep one object for values most instances repeat
(ports, app and VIP names), so a registry read in bulk holds each of them once.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from eureka_embed.model import PortInfo

__all__ = ["collection_paused", "shared_port", "shared_text"]


class _Pause:
    """How many paused reads are under way (any thread), and what the first one found."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.was_enabled = False

    def enter(self) -> None:
        with self.lock:
            if self.depth == 0:
                self.was_enabled = gc.isenabled()
                gc.disable()
            self.depth += 1

    def leave(self) -> None:
        with self.lock:
            self.depth -= 1
            if self.depth == 0 and self.was_enabled:
                gc.enable()


_pause: Final = _Pause()


@contextmanager
def collection_paused() -> Iterator[None]:
    """Automatic garbage collection off until the outermost of these blocks (any thread) ends.

    The collector's switch is process-wide, so overlapping reads in several threads count
    their depth: the last one out restores what the first one in found. A process that keeps
    collection off itself keeps it off.
    """
    _pause.enter()
    try:
        yield
    finally:
        _pause.leave()


# A port is one of 65,536 numbers, enabled or not: the table is bounded by that, and
# PortInfo is frozen, so one object per value can serve every instance.
_PORTS: Final[tuple[dict[int, PortInfo], dict[int, PortInfo]]] = ({}, {})


def shared_port(number: int, enabled: bool) -> PortInfo:
    """``PortInfo(number, enabled)``, the same object each time (``number`` in 0-65535)."""
    table = _PORTS[enabled]
    port = table.get(number)
    if port is None:
        port = table[number] = PortInfo(number, enabled)
    return port


def shared_text(text: str) -> str:
    """``text`` interned: app and VIP names repeat across instances (and across reads).

    ``sys.intern`` keeps no string alive that nothing else holds, so this never grows memory.
    """
    return sys.intern(text)
