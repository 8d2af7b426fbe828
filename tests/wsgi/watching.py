"""Watching reads driven from a thread: a request that may be held, and what it answered."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

INDEX = "X-Eureka-Index"
#: Generous: the machine is shared, and a held request only has to wake well before this.
WAKE_WITHIN_S = 10.0


class Held(Generic[T]):
    """``call()`` run in a thread: whether it has answered, the answer, and how long it took."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._call = call
        self._answered = threading.Event()
        self._result: T | None = None
        self._error: BaseException | None = None
        self.elapsed = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        started = time.monotonic()
        try:
            self._result = self._call()
        except BaseException as exc:  # handed to the test by result()
            self._error = exc
        finally:
            self.elapsed = time.monotonic() - started
            self._answered.set()

    @property
    def answered(self) -> bool:
        return self._answered.is_set()

    def still_held_after(self, seconds: float) -> bool:
        """True when no answer came within ``seconds`` (a negative check needs some time)."""
        return not self._answered.wait(seconds)

    def result(self, timeout: float = WAKE_WITHIN_S) -> T:
        if not self._answered.wait(timeout):
            raise AssertionError(f"the request was still held after {timeout} s")
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


def until(probe: Callable[[], bool], *, timeout: float = WAKE_WITHIN_S, what: str) -> None:
    """Wait for ``probe()``; it observes a thread's progress, there is no clock to move."""
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)
