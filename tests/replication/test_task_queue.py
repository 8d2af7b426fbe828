"""The per-peer task queue: one task per instance and action, bounded, batched in a window."""

from __future__ import annotations

import threading
import time

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

    def advance(self, seconds: float) -> None:
        self.now += seconds


def item(instance_id: str, action: WriteAction = HEARTBEAT, ldt: int = 1) -> ReplicationItem:
    return ReplicationItem(action, "ORDERS", instance_id, ldt)


def ids(tasks: list[ReplicationTask] | None) -> list[tuple[str, str, int | None]]:
    assert tasks is not None
    return [(t.item.instance_id, t.item.action.value, t.item.last_dirty_timestamp) for t in tasks]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_newer_task_replaces_the_pending_one_and_moves_behind_the_others(
    clock: FakeClock,
) -> None:
    queue = TaskQueue(clock=clock)
    queue.put(item("a", WriteAction.REGISTER, ldt=1))
    queue.put(item("a", WriteAction.CANCEL))
    queue.put(item("b"))
    queue.put(item("a", WriteAction.REGISTER, ldt=2))

    batch = queue.take_ready(flush=True)

    # The instance ends registered on the peer, as it is here.
    assert ids(batch) == [("a", "Cancel", 1), ("b", "Heartbeat", 1), ("a", "Register", 2)]
    assert queue.replaced == 1


def test_different_actions_of_one_instance_are_kept_apart(clock: FakeClock) -> None:
    queue = TaskQueue(clock=clock)
    queue.put(item("a", WriteAction.STATUS_UPDATE))
    queue.put(item("a", HEARTBEAT))

    assert len(queue) == 2


def test_past_the_capacity_the_oldest_tasks_are_dropped_and_counted(clock: FakeClock) -> None:
    queue = TaskQueue(capacity=3, clock=clock)
    for n in range(5):
        queue.put(item(f"i{n}"))

    assert len(queue) == 3
    assert queue.dropped == 2
    assert [i for i, _, _ in ids(queue.take_ready(flush=True))] == ["i2", "i3", "i4"]


def test_a_batch_waits_for_the_window_of_its_oldest_task(clock: FakeClock) -> None:
    queue = TaskQueue(max_delay_s=0.1, clock=clock)
    queue.put(item("a"))
    clock.advance(0.06)
    queue.put(item("b"))

    assert queue.take_ready() is None
    clock.advance(0.04)  # the oldest has now waited the whole window
    assert ids(queue.take_ready()) == [("a", "Heartbeat", 1), ("b", "Heartbeat", 1)]
    assert queue.take_ready() is None


def test_a_full_batch_is_ready_at_once_and_no_larger_than_the_maximum(clock: FakeClock) -> None:
    queue = TaskQueue(max_batch=250, clock=clock)
    for n in range(600):
        queue.put(item(f"i{n}"))

    sizes = []
    while (batch := queue.take_ready()) is not None:
        sizes.append(len(batch))
    # The rest waits for its window: it is not a full batch.
    assert sizes == [250, 250]
    clock.advance(0.1)
    assert len(queue.take_ready() or []) == 100


def test_tasks_older_than_the_age_limit_are_dropped_not_sent(clock: FakeClock) -> None:
    queue = TaskQueue(max_age_s=30, clock=clock)
    queue.put(item("stale"))
    clock.advance(29)
    queue.put(item("fresh"))
    clock.advance(2)

    assert ids(queue.take_ready()) == [("fresh", "Heartbeat", 1)]
    assert queue.dropped == 1


def test_requeued_tasks_go_back_in_front_unless_a_newer_one_came(clock: FakeClock) -> None:
    queue = TaskQueue(clock=clock)
    queue.put(item("a", ldt=1))
    queue.put(item("b", ldt=1))
    taken = queue.take_ready(flush=True)
    assert taken is not None
    queue.put(item("c", ldt=1))
    queue.put(item("b", ldt=2))

    queue.requeue(taken)

    assert ids(queue.take_ready(flush=True)) == [
        ("a", "Heartbeat", 1),
        ("c", "Heartbeat", 1),
        ("b", "Heartbeat", 2),
    ]


def test_requeued_tasks_keep_their_age(clock: FakeClock) -> None:
    queue = TaskQueue(max_delay_s=0.1, clock=clock)
    queue.put(item("a"))
    clock.advance(0.1)
    taken = queue.take_ready()
    assert taken is not None

    queue.requeue(taken)

    assert queue.take_ready() is not None  # still due: no second window


def test_requeueing_into_a_full_queue_drops_the_oldest(clock: FakeClock) -> None:
    queue = TaskQueue(capacity=2, clock=clock)
    queue.put(item("a"))
    taken = queue.take_ready(flush=True)
    assert taken is not None
    queue.put(item("b"))
    queue.put(item("c"))

    queue.requeue(taken)

    assert queue.dropped == 1
    assert [i for i, _, _ in ids(queue.take_ready(flush=True))] == ["b", "c"]


def test_next_batch_wakes_for_the_first_task_and_returns_after_the_window() -> None:
    queue = TaskQueue(max_delay_s=0.05)
    got: list[int] = []
    waiter = threading.Thread(target=lambda: got.append(len(queue.next_batch(5.0))))
    waiter.start()
    started = time.monotonic()
    queue.put(item("a"))
    waiter.join(5.0)

    assert got == [1]
    assert 0.04 <= time.monotonic() - started < 1.0


def test_next_batch_gives_up_after_its_timeout_with_nothing_to_send() -> None:
    queue = TaskQueue()
    started = time.monotonic()

    assert queue.next_batch(0.05) == []
    assert time.monotonic() - started < 1.0


def test_a_closed_queue_hands_out_what_is_pending_at_once_and_takes_nothing_more() -> None:
    queue = TaskQueue(max_delay_s=10.0)
    queue.put(item("a"))
    queue.close()
    queue.put(item("b"))

    assert [t.item.instance_id for t in queue.next_batch(5.0)] == ["a"]
    assert queue.next_batch(5.0) == []


def test_close_wakes_a_waiting_sender() -> None:
    queue = TaskQueue()
    done = threading.Event()

    def wait() -> None:
        queue.next_batch(30.0)
        done.set()

    waiter = threading.Thread(target=wait)
    waiter.start()
    queue.close()
    waiter.join(5.0)

    assert done.is_set()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        TaskQueue(capacity=0)
    with pytest.raises(ValueError, match="max_age_s must be positive"):
        TaskQueue(max_age_s=0)
