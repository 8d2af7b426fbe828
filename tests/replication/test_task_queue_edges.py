"""Edges of the per-peer task queue (found by mutation testing): its limits, its counters, and
when the sender thread is woken."""

from __future__ import annotations

import threading

import pytest

from eureka_embed.events import WriteAction
from eureka_embed.replication.task_queue import ReplicationTask, TaskQueue
from eureka_embed.replication.wire import ReplicationItem

HEARTBEAT = WriteAction.HEARTBEAT


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def item(instance_id: str, action: WriteAction = HEARTBEAT) -> ReplicationItem:
    return ReplicationItem(action, "ORDERS", instance_id, 1)


def test_the_smallest_queue_and_batch_and_a_short_age_are_accepted() -> None:
    queue = TaskQueue(capacity=1, max_batch=1, max_age_s=0.5, clock=FakeClock())
    queue.put(item("a"))
    queue.put(item("b"))
    batch = queue.take_ready()
    assert batch is not None
    assert [t.item.instance_id for t in batch] == ["b"]
    assert queue.dropped == 1


def test_replacements_are_all_counted() -> None:
    queue = TaskQueue(clock=FakeClock())
    for _ in range(3):
        queue.put(item("a"))
    assert (len(queue), queue.replaced) == (1, 2)


def test_tasks_dropped_on_requeue_past_capacity_are_all_counted() -> None:
    clock = FakeClock()
    queue = TaskQueue(capacity=2, max_batch=3, clock=clock)
    for name in "abc":
        queue.put(item(name))
    assert queue.dropped == 1
    taken = queue.take_ready(flush=True)
    assert taken is not None
    queue.put(item("d"))
    queue.put(item("e"))
    queue.requeue(taken)  # b, c back in front of d, e: two too many
    assert queue.dropped == 3
    batch = queue.take_ready(flush=True)
    assert batch is not None
    assert [t.item.instance_id for t in batch] == ["d", "e"]


def test_a_task_exactly_as_old_as_the_limit_is_still_sent() -> None:
    clock = FakeClock()
    queue = TaskQueue(max_delay_s=0, max_age_s=30, clock=clock)
    queue.put(item("a"))
    clock.now += 30
    assert queue.take_ready() is not None
    assert queue.dropped == 0


def test_every_task_too_old_is_counted_as_dropped() -> None:
    clock = FakeClock()
    queue = TaskQueue(max_age_s=30, clock=clock)
    queue.put(item("a"))
    queue.put(item("b"))
    clock.now += 31
    assert queue.take_ready() is None
    assert queue.dropped == 2


def test_a_full_batch_is_ready_at_once() -> None:
    queue = TaskQueue(max_batch=2, max_delay_s=60, clock=FakeClock())
    queue.put(item("a"))
    queue.put(item("b"))
    batch = queue.take_ready()
    assert batch is not None
    assert len(batch) == 2


def _wait_in_thread(
    queue: TaskQueue, timeout_s: float
) -> tuple[threading.Thread, list[list[ReplicationTask]]]:
    got: list[list[ReplicationTask]] = []
    waiter = threading.Thread(target=lambda: got.append(queue.next_batch(timeout_s)))
    waiter.start()
    return waiter, got


def test_the_first_task_wakes_a_waiting_sender() -> None:
    queue = TaskQueue(max_delay_s=0)
    waiter, got = _wait_in_thread(queue, timeout_s=60)
    try:
        threading.Event().wait(0.05)  # let the sender block on the empty queue
        queue.put(item("a"))
        waiter.join(timeout=20)
        assert not waiter.is_alive(), "the sender slept through the first task"
        assert len(got[0]) == 1
    finally:
        queue.close()
        waiter.join()


def test_a_full_batch_wakes_a_waiting_sender() -> None:
    queue = TaskQueue(max_batch=2, max_delay_s=60)
    waiter, got = _wait_in_thread(queue, timeout_s=60)
    try:
        threading.Event().wait(0.05)
        queue.put(item("a"))
        threading.Event().wait(0.05)  # the sender now sleeps until a's 60 s deadline
        queue.put(item("b"))
        waiter.join(timeout=20)
        assert not waiter.is_alive(), "the sender slept through a full batch"
        assert len(got[0]) == 2
    finally:
        queue.close()
        waiter.join()


def test_a_short_wait_still_returns_a_batch_that_becomes_due_in_it() -> None:
    queue = TaskQueue(max_delay_s=0.01)
    queue.put(item("a"))
    assert len(queue.next_batch(timeout_s=0.99)) == 1


@pytest.mark.parametrize(
    "limits",
    [{"capacity": 0}, {"max_batch": 0}, {"max_delay_s": -0.1}, {"max_age_s": 0}],
)
def test_limits_out_of_range_are_refused(limits: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(limits))):
        TaskQueue(**limits)  # type: ignore[arg-type]
