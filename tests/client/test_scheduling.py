"""Schedulers, supervised periodic tasks (time-out, back-off, reset) and the token bucket."""

from __future__ import annotations

import threading

import pytest

from eureka_embed.client import ManualScheduler, ThreadScheduler
from eureka_embed.client.rate_limit import TokenBucket
from eureka_embed.client.supervision import SupervisedTask
from eureka_embed.clock import ManualClock


class Outcomes:
    """A task body that succeeds or fails as told, noting when it ran."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.succeed = True
        self.raise_instead = False
        self.takes_s = 0.0
        self.runs_at: list[float] = []
        self._start = clock.now_ms()

    def __call__(self) -> bool:
        self.runs_at.append((self.clock.now_ms() - self._start) / 1000)
        if self.takes_s:
            self.clock.advance(seconds=self.takes_s)
        if self.raise_instead:
            raise OSError("boom")
        return self.succeed


def _task(
    clock: ManualClock, body: Outcomes, *, interval_s: float = 30, bound: int = 10
) -> tuple[SupervisedTask, ManualScheduler]:
    scheduler = ManualScheduler(clock)
    task = SupervisedTask(
        "beat", body, interval_s=interval_s, backoff_bound=bound, scheduler=scheduler
    )
    return task, scheduler


def test_runs_every_interval_while_it_succeeds(clock: ManualClock) -> None:
    body = Outcomes(clock)
    task, scheduler = _task(clock, body)
    task.start()

    scheduler.advance(95)

    assert body.runs_at == [30, 60, 90]
    assert (task.successes, task.failures) == (3, 0)


def test_failures_double_the_wait_up_to_the_bound_and_success_resets_it(
    clock: ManualClock,
) -> None:
    body = Outcomes(clock)
    task, scheduler = _task(clock, body, interval_s=10, bound=4)
    body.succeed = False
    task.start(initial_delay_s=0)

    scheduler.advance(150)
    waits = [b - a for a, b in zip(body.runs_at, body.runs_at[1:], strict=False)]
    assert waits[:4] == [20, 40, 40, 40], "doubling, capped at 4 x 10 s"
    assert task.delay_s == 40

    body.succeed = True
    scheduler.advance(40)
    assert task.delay_s == 10
    runs = len(body.runs_at)
    scheduler.advance(10)
    assert len(body.runs_at) == runs + 1, "back on the plain interval"


def test_an_exception_counts_as_a_failure(clock: ManualClock) -> None:
    body = Outcomes(clock)
    body.raise_instead = True
    task, scheduler = _task(clock, body)
    task.start(0)

    scheduler.run_pending()

    assert (task.failures, task.delay_s) == (1, 60)
    assert scheduler.next_due_in() == 60, "the task goes on after raising"


def test_a_run_longer_than_the_timeout_counts_as_a_failure(clock: ManualClock) -> None:
    body = Outcomes(clock)
    body.takes_s = 31  # the time-out is the interval, 30 s
    task, scheduler = _task(clock, body)
    task.start(0)

    scheduler.run_pending()

    assert (task.timeouts, task.failures, task.delay_s) == (1, 1, 60)


def test_trigger_runs_now_instead_of_at_the_next_due_time(clock: ManualClock) -> None:
    body = Outcomes(clock)
    task, scheduler = _task(clock, body)
    task.start()
    scheduler.advance(5)

    task.trigger()
    scheduler.run_pending()

    assert body.runs_at == [5]
    assert scheduler.next_due_in() == 30, "one pending run, an interval after the triggered one"


def test_stop_cancels_the_next_run(clock: ManualClock) -> None:
    body = Outcomes(clock)
    task, scheduler = _task(clock, body)
    task.start()
    task.stop()

    scheduler.advance(300)

    assert body.runs_at == []
    task.trigger()
    assert scheduler.run_pending() == 0


def test_thread_scheduler_runs_calls_in_order_and_stops_its_threads() -> None:
    scheduler = ThreadScheduler("eureka-client-test")
    ran: list[str] = []
    done = threading.Event()
    scheduler.call_later(0.05, lambda: ran.append("later"))
    scheduler.call_later(0, lambda: ran.append("first"))
    scheduler.call_later(0.1, done.set)
    cancelled = scheduler.call_later(0.05, lambda: ran.append("cancelled"))
    cancelled.cancel()

    assert done.wait(5)
    scheduler.shutdown()

    assert ran == ["first", "later"]
    assert not [t for t in threading.enumerate() if t.name.startswith("eureka-client-test")]


def test_thread_scheduler_time_limit_and_no_second_run_while_one_is_stuck() -> None:
    scheduler = ThreadScheduler("eureka-client-test")
    release = threading.Event()
    try:
        with pytest.raises(TimeoutError):
            scheduler.run_with_timeout("stuck", lambda: release.wait(10), 0.05)
        with pytest.raises(TimeoutError, match="previous run"):
            scheduler.run_with_timeout("stuck", lambda: True, 1)
        assert scheduler.run_with_timeout("other", lambda: 42, 1) == 42
    finally:
        release.set()
        scheduler.shutdown()


def test_token_bucket_allows_a_burst_then_the_rate(clock: ManualClock) -> None:
    bucket = TokenBucket(2, per_second=0.1, clock=clock)  # one token per 10 s

    assert [bucket.try_acquire() for _ in range(3)] == [True, True, False]
    clock.advance(seconds=9)
    assert not bucket.try_acquire()
    clock.advance(seconds=1)
    assert bucket.try_acquire()
    clock.advance(seconds=3600)
    assert [bucket.try_acquire() for _ in range(3)] == [True, True, False], "never above burst"
