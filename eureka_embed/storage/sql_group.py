"""Group commit: concurrent writes of one process share a transaction (SqlStore over SQLite).

SQLite lets one writer in at a time, and what a write transaction costs is mostly its own
bookkeeping (BEGIN, the WAL append at COMMIT, the connection's turn), not the few statements of
one registration. Writers taking turns pay one commit each, and adding clients only adds
contention; writers sharing a commit pay one per batch.

Leader and followers, without a thread of its own: a writer queues its unit of work; if no
batch is being written it becomes the leader, takes everything queued (its own unit among
them, at most ``max_batch``), has the store run them in order in one transaction, and answers
each. Writers that arrive meanwhile wait; when the batch is answered the next of them leads
the queue that formed behind it. So batches grow with the load by themselves, and a lone writer
pays one transaction as before. Every writer is answered only after its batch's commit, with
that batch's outcome: a failed commit fails every unit of the batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["GroupCommit", "Queued"]

T = TypeVar("T")


@dataclass(eq=False, slots=True)
class Queued(Generic[T]):
    """One writer's unit of work in the queue, and how it ended."""

    work: T
    outcome: Any = None
    error: BaseException | None = None
    answered: bool = False


class GroupCommit(Generic[T]):
    """Runs queued work in batches through ``write_batch``, one batch at a time.

    ``write_batch`` gets the batch in arrival order and sets ``outcome`` or ``error`` on every
    item (it should not raise; if it does, every item it left unanswered gets that error).
    """

    def __init__(self, write_batch: Callable[[list[Queued[T]]], None], *, max_batch: int) -> None:
        self._write_batch = write_batch
        self._max_batch = max_batch
        self._turn = threading.Condition(threading.Lock())
        self._queue: list[Queued[T]] = []
        self._leading = False

    @property
    def waiting(self) -> int:
        """Writers queued and not yet taken into a batch."""
        return len(self._queue)

    def submit(self, work: T) -> Any:
        """Queue ``work``, wait until its batch is written, and return its outcome (or raise)."""
        mine = Queued(work)
        with self._turn:
            self._queue.append(mine)
            while self._leading and not mine.answered:
                self._turn.wait()
            if not mine.answered:
                self._leading = True
        if not mine.answered:
            self._lead(mine)
        if mine.error is not None:
            raise mine.error
        return mine.outcome

    def _lead(self, mine: Queued[T]) -> None:
        try:
            while not mine.answered:  # more than one batch when more than max_batch queued
                with self._turn:
                    batch = self._queue[: self._max_batch]
                    del self._queue[: self._max_batch]
                try:
                    self._write_batch(batch)
                except BaseException as exc:
                    for item in batch:
                        if item.error is None and item.outcome is None:
                            item.error = exc
                    raise
                finally:
                    with self._turn:
                        for item in batch:
                            item.answered = True
                        self._turn.notify_all()
        finally:
            with self._turn:
                self._leading = False
                self._turn.notify_all()  # the first of those still queued leads next
