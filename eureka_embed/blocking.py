"""Telling a caller on an event loop that what it called is about to block.

The ASGI adapter answers heartbeats and cached reads on the event loop: they are dictionary
lookups and in-memory updates, and a hop to a worker thread would cost more than the work
itself. Two things on those paths can still block, rarely: building a payload the cache does not
hold (encoding the whole registry), and a heartbeat that re-applies a status override (a write
through to the store). Such code calls :func:`may_block` first, before any side effect. Inside
:func:`call_non_blocking` that raises :class:`WouldBlock`, and the adapter runs the whole request
again in a worker thread, where :func:`may_block` does nothing: nothing was done the first time,
so running it again is safe.

A context variable rather than a flag passed down: the decision belongs to the adapter, and the
registry, the store and the cache keep one calling convention for every adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Final, TypeVar

__all__ = ["WouldBlock", "call_non_blocking", "may_block"]

A = TypeVar("A")
R = TypeVar("R")

_NON_BLOCKING: Final[ContextVar[bool]] = ContextVar("eureka_embed_non_blocking", default=False)


class WouldBlock(BaseException):
    """Raised by :func:`may_block` under :func:`call_non_blocking`; nothing has been done yet.

    A BaseException, as GeneratorExit is: the ``except Exception`` that turns an endpoint's
    errors into answers (or guards a listener) must let it through to the adapter.
    """


def may_block() -> None:
    """Call before work that can block (I/O, a wait on a lock held during I/O, a big build)."""
    if _NON_BLOCKING.get():
        raise WouldBlock


def call_non_blocking(fn: Callable[[A], R], arg: A) -> R:
    """``fn(arg)``, where :func:`may_block` raises :class:`WouldBlock` instead of going on.

    A function rather than a context manager: a generator-based one costs a few microseconds,
    on a heartbeat path that takes about ten.
    """
    token = _NON_BLOCKING.set(True)
    try:
        return fn(arg)
    finally:
        _NON_BLOCKING.reset(token)
