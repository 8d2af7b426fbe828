"""A periodic task that survives its failures: time-out per run, exponential back-off.

The heartbeat and the registry refresh run this way, as Eureka's supervised timer tasks do:
each run is bounded by a time-out; a run that fails (returns False, raises, or times out)
doubles the wait before the next one, up to ``backoff_bound`` x the interval, so a fleet does not
hammer a server that is down; the first success brings the interval back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from eureka_embed.client.scheduling import ScheduledCall, Scheduler

__all__ = ["SupervisedTask"]

log = logging.getLogger(__name__)


class SupervisedTask:
    """Runs ``body`` every ``interval_s`` on ``scheduler``; ``body`` returns True on success.

    ``timeout_s`` defaults to the interval. :meth:`trigger` runs the task as soon as possible
    (after the current run, if one is going).
    """

    def __init__(
        self,
        name: str,
        body: Callable[[], bool],
        *,
        interval_s: float,
        scheduler: Scheduler,
        backoff_bound: int = 10,
        timeout_s: float | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        if backoff_bound < 1:
            raise ValueError("backoff_bound must be at least 1")
        self.name = name
        self._body = body
        self.interval_s = interval_s
        self.max_delay_s = interval_s * backoff_bound
        self.timeout_s = timeout_s if timeout_s is not None else interval_s
        self._scheduler = scheduler
        self._lock = threading.Lock()
        self._call: ScheduledCall | None = None
        self._running = False
        self._rerun = False
        self._stopped = True
        #: The wait before the next run: the interval, or more while backing off.
        self.delay_s = interval_s
        self.successes = 0
        self.failures = 0
        self.timeouts = 0

    def start(self, initial_delay_s: float | None = None) -> None:
        """First run after ``initial_delay_s`` (default: one interval)."""
        with self._lock:
            if not self._stopped:
                raise RuntimeError(f"task {self.name} already started")
            self._stopped = False
            delay = self.interval_s if initial_delay_s is None else initial_delay_s
            self._call = self._scheduler.call_later(delay, self._tick)

    def trigger(self) -> None:
        """Run as soon as possible instead of at the next due time."""
        with self._lock:
            if self._stopped:
                return
            if self._running:
                self._rerun = True
                return
            if self._call is not None:
                self._call.cancel()
            self._call = self._scheduler.call_later(0, self._tick)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._call is not None:
                self._call.cancel()
                self._call = None

    def _tick(self) -> None:
        with self._lock:
            if self._stopped or self._running:
                return
            self._running = True
        try:
            self.run_once()
        finally:
            with self._lock:
                self._running = False
                if not self._stopped:
                    delay = 0.0 if self._rerun else self.delay_s
                    self._rerun = False
                    self._call = self._scheduler.call_later(delay, self._tick)

    def run_once(self) -> bool:
        """One supervised run, with its effect on the back-off; whether it succeeded."""
        try:
            succeeded = self._scheduler.run_with_timeout(self.name, self._body, self.timeout_s)
        except TimeoutError as exc:
            self.timeouts += 1
            log.warning("%s timed out: %s", self.name, exc)
            succeeded = False
        except Exception:
            log.exception("%s failed", self.name)
            succeeded = False
        if succeeded:
            self.successes += 1
            self.delay_s = self.interval_s
        else:
            self.failures += 1
            self.delay_s = min(self.delay_s * 2, self.max_delay_s)
            log.info("%s: next try in %g s", self.name, self.delay_s)
        return succeeded
