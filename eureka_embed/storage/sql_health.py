"""Whether the store's database answers, as its last units of work found: a circuit breaker.

A database that refuses connections costs each write a prompt error; one that does not answer
at all costs each write a whole time-out, and with a few concurrent writers every worker thread
of the server waits on it, so heartbeats and reads (which the store serves from memory) wait
too. So once a unit of work ran into a time-out, writes fail at once with StorageUnavailable
instead of waiting in turn. Reads and the store's own background thread still try (each within
its time-out): the first unit of work that succeeds closes the breaker again. That is the
background thread's next flush or sync (every sync interval), or any explicit ``sync()``.

One warning is logged when the database stops answering and one when it is back, not one per
failed request.
"""

from __future__ import annotations

import logging
import threading
import time

from eureka_embed.errors import StorageUnavailable

__all__ = ["DatabaseHealth"]


class DatabaseHealth:
    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._not_answering = False
        self._reason = ""

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def admit(self, *, may_probe: bool) -> None:
        """Raise at once if the database is not answering and this caller may not try it."""
        if self._not_answering and not may_probe:
            raise StorageUnavailable(
                f"{self._reason}; writes are refused until it answers again (retry later)"
            )

    def failed(self, reason: str, *, not_answering: bool) -> None:
        """A unit of work could not reach the database (``not_answering``: it timed out)."""
        with self._lock:
            if self._down_since is None:
                self._down_since = time.monotonic()
                self._log.warning(
                    "SQL store: the database is unreachable (%s); writes answer 503 until it "
                    "is back, reads and heartbeats go on from memory",
                    reason,
                )
            self._reason = reason
            self._not_answering = self._not_answering or not_answering

    def succeeded(self) -> None:
        """A unit of work reached the database."""
        if self._down_since is None:  # the common case, without the lock
            return
        with self._lock:
            if self._down_since is None:
                return
            outage = time.monotonic() - self._down_since
            self._down_since = None
            self._not_answering = False
            self._log.warning("SQL store: the database is reachable again after %.1f s", outage)
