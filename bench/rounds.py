"""Interleaved rounds, medians and spread: how every bench in ``bench/`` measures and reports.

One run on a shared machine says little: load from elsewhere comes and goes within seconds,
and a best-of-N keeps the luckiest moment. So each bench measures in rounds. In every round
it runs each subject (what it measures, and the baseline it is compared with) once, back to
back, in an order that rotates from round to round, so that all of them see the same machine.
A figure is the median over the rounds with its spread (min-max). A ratio is taken within each
round (subject over the baseline of that same round) and reported the same way.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

DEFAULT_ROUNDS = 5


@dataclass(frozen=True)
class Spread:
    """Values measured once per round: their median, min and max."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        found = tuple(values)
        if not found:
            raise ValueError("a spread needs at least one value")
        return cls(found)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def show(self, fmt: str = ",.0f", *, scale: float = 1.0, unit: str = "") -> str:
        """``"9,756 (9,349-10,724)"``: the median, then min-max, each times ``scale``."""
        median, low, high = (format(v * scale, fmt) for v in (self.median, self.low, self.high))
        return f"{median} ({low}-{high}){' ' + unit if unit else ''}"


def interleaved(subjects: Mapping[str, Callable[[], T]], rounds: int) -> dict[str, list[T]]:
    """Call every subject once per round, ``rounds`` times; each one's results, in round order.

    The order rotates by one each round, so no subject always runs first (on a cold cache) or
    right after the same neighbour.
    """
    names = list(subjects)
    results: dict[str, list[T]] = {name: [] for name in names}
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(subjects[name]())
    return results


def median_time(call: Callable[[], object], repeat: int = 1) -> float:
    """Seconds one ``call`` takes: the median of ``repeat`` timed calls (one round's figure)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ratio(subject: Sequence[float], baseline: Sequence[float]) -> Spread:
    """Subject over baseline, round by round (both measured in the same rounds)."""
    if len(subject) != len(baseline):
        raise ValueError("subject and baseline must come from the same rounds")
    return Spread.of(s / b for s, b in zip(subject, baseline, strict=True))


def rounds_argument(parser: argparse.ArgumentParser, default: int = DEFAULT_ROUNDS) -> None:
    """``--rounds N``, the same option and meaning in every bench."""

    def count(text: str) -> int:
        value = int(text)
        if value < 1:
            raise argparse.ArgumentTypeError("at least one round")
        return value

    parser.add_argument(
        "--rounds",
        type=count,
        default=default,
        help=f"interleaved rounds; figures are their median and min-max (default {default})",
    )


def heading(title: str, rounds: int) -> None:
    print(f"{title}: median (min-max) of {rounds} interleaved rounds")


def row(label: str, value: str, target: str = "") -> None:
    """One printed figure, aligned the same way in every bench."""
    print(f"  {label:<46}{value:>28}   {target}".rstrip())


def target(text: str, met: bool) -> str:
    """``"target >= 0.85: met"``, judged on the median."""
    return f"target {text}: {'met' if met else 'NOT met'}"
