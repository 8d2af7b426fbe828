"""GroupCommit when ``write_batch`` raises part-way (storage/sql_group.py's documented contract):
the writers it had answered keep their answer, every other writer of the batch gets the error."""

from __future__ import annotations

import threading
from typing import Any

from eureka_embed.storage.sql_group import GroupCommit, Queued
from tests.server.support import wait_for


class Boom(Exception):
    pass


def test_writers_answered_before_write_batch_raised_keep_their_outcome_the_rest_get_the_error() -> (
    None
):
    first_batch_started = threading.Event()
    first_batch_may_end = threading.Event()

    def write_batch(batch: list[Queued[str]]) -> None:
        if [item.work for item in batch] == ["first"]:
            first_batch_started.set()
            first_batch_may_end.wait(10)
            batch[0].outcome = "first done"
            return
        # The second batch: answer one follower (not the leader, which gets the raise
        # anyway), leave the others, then fail.
        leader = threading.current_thread().name
        followers = [item for item in batch if item.work != leader]
        followers[0].outcome = f"{followers[0].work} done"
        raise Boom("the batch failed")

    group: GroupCommit[str] = GroupCommit(write_batch, max_batch=10)
    results: dict[str, Any] = {}

    def submit(work: str) -> None:
        try:
            results[work] = group.submit(work)
        except Boom as exc:
            results[work] = exc

    first = threading.Thread(target=submit, args=("first",), name="first")
    first.start()
    assert first_batch_started.wait(10)
    others = [threading.Thread(target=submit, args=(n,), name=n) for n in ("b", "c", "d")]
    for thread in others:
        thread.start()
    wait_for(lambda: group.waiting == 3 or None, timeout=10, what="three writers queued")
    first_batch_may_end.set()
    for thread in (first, *others):
        thread.join(10)

    assert results["first"] == "first done"
    answered = [work for work in "bcd" if results[work] == f"{work} done"]
    failed = [work for work in "bcd" if isinstance(results[work], Boom)]
    # One follower was answered before the raise; the leader and the other follower fail.
    assert len(answered) == 1
    assert sorted(answered + failed) == ["b", "c", "d"]
