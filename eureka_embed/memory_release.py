"""Handing freed heap memory back to the system after a burst of garbage.

A deploy storm registers and cancels thousands of instances inside the delta window; once its
changes leave the window they are freed, but the C allocator keeps the freed pages (in the
middle of its heaps, one heap per thread that allocated) and the server's RSS stays at its
peak: measured 1.7x the steady level five minutes after a storm of as many registrations as
the fleet had, while the Python objects alive were back to their level. glibc's
``malloc_trim`` returns those pages. It is called only after a maintenance pass freed a lot
(it walks the heaps, a few milliseconds), and does nothing where there is no glibc.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from collections.abc import Callable

__all__ = ["RELEASE_AFTER", "release_free_memory"]

log = logging.getLogger(__name__)

#: Changes pruned or leases evicted by one maintenance pass from which freed memory is
#: handed back: a storm's worth, not the few of a quiet minute.
RELEASE_AFTER = 1_000


def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library this process runs on
    except (OSError, AttributeError):  # not glibc (musl before 1.2.1 has none)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def release_free_memory() -> bool:
    """Give the allocator's free pages back to the system; whether any were."""
    if _TRIM is None:
        return False
    released = bool(_TRIM(0))
    log.debug("malloc_trim: %s", "memory released" if released else "nothing to release")
    return released
