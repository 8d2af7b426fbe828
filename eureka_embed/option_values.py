"""Option values from text: command-line flags, environment variables, pytest ini keys.

Each parser takes the raw text and returns the value, or raises :class:`ValueError` whose
message is the reason, worded to follow the option's name ("--port must be in 0..65535, got
70000"). The ``eureka-embed`` command and the pytest plugin both use them, so a value means
the same, and is refused with the same words, wherever it is written. Standard library only:
the pytest plugin imports this in every test run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

__all__ = [
    "FALSE_WORDS",
    "TRUE_WORDS",
    "boolean",
    "fraction",
    "non_empty",
    "one_of",
    "port",
    "positive_seconds",
    "whole_number",
]

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def boolean(text: str) -> bool:
    """``true``/``false`` and their usual spellings (``1``, ``yes``, ``on``...), any case."""
    value = text.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ValueError(f"must be true or false, got {text!r}")


def port(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise ValueError(f"must be a whole number, got {text!r}") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"must be in 0..65535 (0 picks a free port), got {number}")
    return number


def whole_number(at_least: int) -> Callable[[str], int]:
    """A parser of whole numbers no smaller than ``at_least``."""

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise ValueError(f"must be a whole number, got {text!r}") from None
        if number < at_least:
            raise ValueError(f"must be at least {at_least}, got {number}")
        return number

    return parse


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"must be a positive number of seconds, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A number in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"must be a number in (0, 1], got {text!r}") from None
    if not 0.0 < value <= 1.0:  # also false for NaN
        raise ValueError(f"must be in (0, 1], got {text!r}")
    return value


def non_empty(text: str) -> str:
    """The text without surrounding blanks, which must leave something."""
    if not text.strip():
        raise ValueError("must not be empty")
    return text.strip()


def one_of(choices: Sequence[str]) -> Callable[[str], str]:
    """A parser of one of ``choices`` (lower case), in any case and with blanks around."""

    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {text!r}")
        return value

    return parse
