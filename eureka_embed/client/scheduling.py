"""When the discovery client's periodic work runs, and on which threads.

:class:`Scheduler` is the seam: :class:`ThreadScheduler` runs calls on real time with a timer
thread and a small worker pool; :class:`ManualScheduler` runs them only when a test says so, on
an injected :class:`~eureka_embed.clock.ManualClock`, so back-off, time-outs and intervals are
tested deterministically without sleeping.
"""

from __future__ import annotations

import concurrent.futures
import heapq
import itertools
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

from eureka_embed.clock import ManualClock

__all__ = ["ManualScheduler", "ScheduledCall", "Scheduler", "ThreadScheduler"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class ScheduledCall:
    """A call waiting for its time; :meth:`cancel` keeps it from running."""

    __slots__ = ("cancelled", "due", "fn", "seq")

    def __init__(self, due: float, seq: int, fn: Callable[[], None]) -> None:
        self.due = due
        self.seq = seq
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: ScheduledCall) -> bool:
        return (self.due, self.seq) < (other.due, other.seq)


class Scheduler(ABC):
    """Runs functions later, and runs a function under a time limit."""

    @abstractmethod
    def call_later(self, delay_s: float, fn: Callable[[], None]) -> ScheduledCall:
        """Run ``fn`` once, ``delay_s`` from now. Exceptions from it are logged, not raised."""

    @abstractmethod
    def run_with_timeout(self, name: str, fn: Callable[[], T], timeout_s: float) -> T:
        """``fn()``'s result, or :class:`TimeoutError` once it has run ``timeout_s``.

        A timed-out run cannot be killed; it goes on in the background, and runs of the same
        ``name`` fail with TimeoutError until it ends, so one task never runs twice at once.
        """

    @abstractmethod
    def shutdown(self) -> None:
        """Drop pending calls and stop every thread this scheduler started. Idempotent."""


class ThreadScheduler(Scheduler):
    """Real time: a timer thread hands due calls to ``workers`` pool threads; runs under a time
    limit go to one worker thread per ``name``. Threads start with the first call."""

    def __init__(self, name: str = "eureka-client", *, workers: int = 2) -> None:
        self._name = name
        self._workers = workers
        self._cond = threading.Condition()
        self._heap: list[ScheduledCall] = []
        self._seq = itertools.count()
        self._stopped = False
        self._timer: threading.Thread | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._runners: dict[str, concurrent.futures.ThreadPoolExecutor] = {}
        self._running: dict[str, concurrent.futures.Future[Any]] = {}

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> ScheduledCall:
        call = ScheduledCall(time.monotonic() + max(delay_s, 0.0), next(self._seq), fn)
        with self._cond:
            if self._stopped:
                raise RuntimeError("scheduler is shut down")
            if self._timer is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    self._workers, thread_name_prefix=f"{self._name}-worker"
                )
                self._timer = threading.Thread(
                    target=self._loop, name=f"{self._name}-timer", daemon=True
                )
                self._timer.start()
            heapq.heappush(self._heap, call)
            self._cond.notify()
        return call

    def _loop(self) -> None:
        with self._cond:
            while not self._stopped:
                if not self._heap:
                    self._cond.wait()
                    continue
                call = self._heap[0]
                if call.cancelled:
                    heapq.heappop(self._heap)
                    continue
                wait_s = call.due - time.monotonic()
                if wait_s > 0:
                    self._cond.wait(wait_s)
                    continue
                heapq.heappop(self._heap)
                assert self._pool is not None
                self._pool.submit(_run_logged, call)

    def run_with_timeout(self, name: str, fn: Callable[[], T], timeout_s: float) -> T:
        with self._cond:
            if self._stopped:
                raise RuntimeError("scheduler is shut down")
            previous = self._running.get(name)
            if previous is not None and not previous.done():
                raise TimeoutError(f"{name}: the previous run has not ended yet")
            runner = self._runners.get(name)
            if runner is None:
                runner = self._runners[name] = concurrent.futures.ThreadPoolExecutor(
                    1, thread_name_prefix=f"{self._name}-{name}"
                )
            future = runner.submit(fn)
            self._running[name] = future
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"{name} ran longer than {timeout_s:g} s") from None

    def shutdown(self) -> None:
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify_all()
            timer, pool, runners = self._timer, self._pool, list(self._runners.values())
        # Waiting for a thread from inside it would deadlock: a task that shuts its own client
        # down leaves its thread to end on its own right after.
        inside = threading.current_thread().name.startswith(self._name + "-")
        if timer is not None and timer is not threading.current_thread():
            timer.join()
        for executor in (pool, *runners):
            if executor is not None:
                executor.shutdown(wait=not inside, cancel_futures=True)


class ManualScheduler(Scheduler):
    """Calls run only in :meth:`run_pending` or :meth:`advance`, on ``clock``'s time.

    ``run_with_timeout`` runs inline and raises :class:`TimeoutError` afterwards when the
    function moved the clock past the limit: a test plays a slow request by advancing the
    clock inside it.
    """

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self._heap: list[ScheduledCall] = []
        self._seq = itertools.count()
        self._stopped = False

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> ScheduledCall:
        if self._stopped:
            raise RuntimeError("scheduler is shut down")
        due = self.clock.now_ms() + max(round(delay_s * 1000), 0)
        call = ScheduledCall(due, next(self._seq), fn)
        heapq.heappush(self._heap, call)
        return call

    def next_due_in(self) -> float | None:
        """Seconds until the next pending call (0 if overdue), or None when nothing is pending."""
        self._drop_cancelled()
        if not self._heap:
            return None
        return max(self._heap[0].due - self.clock.now_ms(), 0) / 1000

    def run_pending(self) -> int:
        """Run every call due now, including calls they schedule for now; how many ran."""
        ran = 0
        while True:
            self._drop_cancelled()
            if not self._heap or self._heap[0].due > self.clock.now_ms():
                return ran
            _run_logged(heapq.heappop(self._heap))
            ran += 1

    def advance(self, seconds: float) -> int:
        """Move time forward, running each call at its own due time on the way."""
        target = self.clock.now_ms() + round(seconds * 1000)
        ran = 0
        while True:
            self._drop_cancelled()
            if not self._heap or self._heap[0].due > target:
                break
            call = heapq.heappop(self._heap)
            if call.due > self.clock.now_ms():
                self.clock.set(int(call.due))
            _run_logged(call)
            ran += 1
        if self.clock.now_ms() < target:
            self.clock.set(target)
        return ran

    def run_with_timeout(self, name: str, fn: Callable[[], T], timeout_s: float) -> T:
        started = self.clock.now_ms()
        result = fn()
        if self.clock.now_ms() - started > timeout_s * 1000:
            raise TimeoutError(f"{name} ran longer than {timeout_s:g} s")
        return result

    def shutdown(self) -> None:
        self._stopped = True
        self._heap.clear()

    def _drop_cancelled(self) -> None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)


def _run_logged(call: ScheduledCall) -> None:
    if call.cancelled:
        return
    try:
        call.fn()
    except Exception:
        log.exception("scheduled call %r failed", call.fn)
