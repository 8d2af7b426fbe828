"""One peer's pending replication tasks: deduplicated, bounded, handed out in batches.

- One pending task per (app, instance id, action): a newer one replaces it and moves to the
  back, so the latest write of each kind keeps its place after the others (a Register, then a
  Cancel, then a Register again is sent as Cancel, Register: the instance stays).
- Bounded: past ``capacity`` the oldest task is dropped and counted; dropping the oldest keeps
  what remains a consistent suffix of the history.
- A batch is ready when ``max_batch`` tasks wait, or when the oldest has waited ``max_delay_s``;
  so no task waits longer than that for its batch to start (unless the peer is failing).
- Tasks older than ``max_age_s`` are dropped when a batch is taken (Eureka's "replication
  events older than the threshold"): a peer that was away for long catches up by
  reconciliation (:mod:`.reconcile`) instead of from stale writes that could resurrect
  evicted instances.

:meth:`take_ready` decides on the injected ``clock`` without blocking (what the tests drive);
:meth:`next_batch` is the sender thread's blocking wrapper around it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from eureka_embed.events import WriteAction
from eureka_embed.replication.wire import ReplicationItem

__all__ = ["ReplicationTask", "TaskQueue"]

TaskKey = tuple[str, str, WriteAction]


@dataclass(frozen=True, slots=True)
class ReplicationTask:
    item: ReplicationItem
    #: When it was queued, on the queue's clock (seconds).
    queued_at: float


class TaskQueue:
    """Thread-safe; any number of producers, one consumer (the peer's sender)."""

    def __init__(
        self,
        *,
        capacity: int = 10_000,
        max_batch: int = 250,
        max_delay_s: float = 0.1,
        max_age_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1 or max_batch < 1:
            raise ValueError("capacity and max_batch must be at least 1")
        if max_delay_s < 0 or max_age_s <= 0:
            raise ValueError("max_delay_s must not be negative and max_age_s must be positive")
        self.capacity = capacity
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self.max_age_s = max_age_s
        self._clock = clock
        self._pending: OrderedDict[TaskKey, ReplicationTask] = OrderedDict()
        self._ready = threading.Condition(threading.Lock())
        self._closed = False
        #: Tasks given up before they were sent: the queue was full, or they grew too old.
        self.dropped = 0
        #: Tasks replaced by a newer one for the same instance and action before being sent.
        self.replaced = 0

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: ReplicationItem) -> None:
        """Queue ``item``, replacing a pending task for the same instance and action."""
        with self._ready:
            if self._closed:
                return
            pending = self._pending
            if pending.pop(item.key, None) is not None:
                self.replaced += 1
            was_empty = not pending
            pending[item.key] = ReplicationTask(item, self._clock())
            if len(pending) > self.capacity:
                pending.popitem(last=False)
                self.dropped += 1
            # Wake the sender only when its wait changes: it sleeps until the oldest task's
            # deadline, which only a first task or a full batch moves.
            if was_empty or len(pending) == self.max_batch:
                self._ready.notify()

    def requeue(self, tasks: Iterable[ReplicationTask]) -> None:
        """Put tasks a failed send took back at the front, oldest first, keeping their age.

        A task for which a newer one was queued meanwhile is not put back: the newer one says
        more. Past the capacity the oldest are dropped, as for :meth:`put`.
        """
        with self._ready:
            if self._closed:
                return
            pending = self._pending
            for task in reversed(list(tasks)):
                if task.item.key in pending:
                    continue
                pending[task.item.key] = task
                pending.move_to_end(task.item.key, last=False)
            while len(pending) > self.capacity:
                pending.popitem(last=False)
                self.dropped += 1
            if pending:
                self._ready.notify()

    def take_ready(self, *, flush: bool = False) -> list[ReplicationTask] | None:
        """The next batch if one is ready now (any waiting tasks with ``flush``), else None."""
        with self._ready:
            return self._take_ready(flush)

    def _take_ready(self, flush: bool) -> list[ReplicationTask] | None:
        pending = self._pending
        now = self._clock()
        while pending:
            oldest = next(iter(pending.values()))
            if now <= oldest.queued_at + self.max_age_s:
                break
            pending.popitem(last=False)
            self.dropped += 1
        if not pending:
            return None
        oldest = next(iter(pending.values()))
        due = flush or len(pending) >= self.max_batch
        if not due and now < oldest.queued_at + self.max_delay_s:
            return None
        count = min(len(pending), self.max_batch)
        return [pending.popitem(last=False)[1] for _ in range(count)]

    def _wait_s(self) -> float | None:
        """How long until the oldest task's batch is due; None when there is none."""
        if not self._pending:
            return None
        oldest = next(iter(self._pending.values()))
        return max(oldest.queued_at + self.max_delay_s - self._clock(), 0.0)

    def next_batch(self, timeout_s: float) -> list[ReplicationTask]:
        """Block until a batch is ready, and return it; ``[]`` after ``timeout_s`` or a close.

        After :meth:`close`, what is still pending is handed out at once (a final flush).
        """
        deadline = time.monotonic() + timeout_s
        with self._ready:
            while True:
                batch = self._take_ready(flush=self._closed)
                if batch is not None:
                    return batch
                remaining = deadline - time.monotonic()
                if self._closed or remaining <= 0:
                    return []
                due = self._wait_s()
                self._ready.wait(remaining if due is None else min(due, remaining))

    def close(self) -> None:
        """Refuse new tasks; :meth:`next_batch` returns at once from now on."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
