"""``may_block`` stops work only where the caller asked not to block, and only for that call."""

from __future__ import annotations

import pytest

from eureka_embed.blocking import WouldBlock, call_non_blocking, may_block


def _blocking_work(steps: list[str]) -> str:
    steps.append("started")
    may_block()
    steps.append("blocked")
    return "done"


def test_outside_call_non_blocking_may_block_lets_the_work_go_on() -> None:
    steps: list[str] = []

    assert _blocking_work(steps) == "done"
    assert steps == ["started", "blocked"]


def test_inside_it_the_work_stops_before_the_blocking_step() -> None:
    steps: list[str] = []

    with pytest.raises(WouldBlock):
        call_non_blocking(_blocking_work, steps)

    assert steps == ["started"]
    # The call is over: the same work now runs to its end.
    assert _blocking_work(steps) == "done"


def test_work_that_never_blocks_runs_whole_inside_it() -> None:
    assert call_non_blocking(lambda n: n + 1, 41) == 42


def test_an_endpoints_except_exception_does_not_swallow_it() -> None:
    def guarded(_: None) -> str:
        try:
            may_block()
        except Exception:  # what answer() and listener guards catch
            return "swallowed"
        return "went on"

    with pytest.raises(WouldBlock):
        call_non_blocking(guarded, None)
