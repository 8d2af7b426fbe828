"""Answering endpoint requests from an event loop without stalling it.

An event-loop adapter (the ASGI one) calls :meth:`EventLoopAnswers.answer` for every request.
A route's :attr:`~eureka_embed.http.endpoints.Route.inline_methods` (heartbeats, cached reads)
run on the loop: they are in-memory work of a few microseconds, and a hop to a thread and back
would cost more than they do (the heartbeat's target is 0.85 of a bare Falcon PUT). Checked for
every store: ``renew`` updates the record in memory (SQL stores flush renewals in batches from
their own thread), reads come from the store's in-memory records and the payload cache, and a
renewal's replication to peers is queued in memory; the locks on these paths are never held
across I/O. Should one
reach code that can block (a cache miss builds the payload; a heartbeat re-applies an override,
a write), :func:`~eureka_embed.blocking.may_block` stops it before any side effect and it runs
again in the pool. Everything else (registrations, cancels, status and metadata changes,
replication batches: SQL writes through; status pages and metrics) always runs in the pool.

The pool is bounded: writes queue for a thread rather than opening more database connections
than the store's pool holds, and the loop keeps serving heartbeats meanwhile.

**One rerun at a time for a herd.** A change wakes every watcher of a view at once, and each
one's read then misses the cache the change emptied. Sent to the pool all together, thousands
of them would queue behind a handful of threads, each building the same payload again. So while
one inline request that would block runs in the pool, the others that would block wait for it
and then try inline again: the first built what they need, and they are answered from the
cache on the loop. Only one that still would block goes to the pool after that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from eureka_embed.blocking import WouldBlock, call_non_blocking
from eureka_embed.http.endpoints import answer
from eureka_embed.http.messages import EndpointRequest, EndpointResponse, Handler
from eureka_embed.http.responses import error_response

__all__ = ["DEFAULT_BLOCKING_THREADS", "EventLoopAnswers"]

A = TypeVar("A")
R = TypeVar("R")

#: As many as waitress's default worker threads: the same writes can be in flight at once.
DEFAULT_BLOCKING_THREADS = 8


class EventLoopAnswers:
    """Runs endpoint handlers for coroutines: inline where allowed, else in ``threads`` threads."""

    def __init__(self, threads: int = DEFAULT_BLOCKING_THREADS) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.threads = threads
        # Threads start on first use and idle ones cost nothing, so an app that never writes
        # never starts one.
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="eureka-embed-blocking")
        # The pool rerun of an inline request in flight, by event loop (an app may be served
        # from several loops, e.g. one per test client thread).
        self._rerun: dict[asyncio.AbstractEventLoop, asyncio.Future[EndpointResponse]] = {}
        #: Inline requests that would have blocked and went to the pool (for tests and metrics).
        self.reruns = 0

    async def answer(
        self, handler: Handler, request: EndpointRequest, *, inline: bool
    ) -> EndpointResponse:
        """What :func:`~eureka_embed.http.endpoints.answer` gives, without blocking the loop."""
        loop = asyncio.get_running_loop()
        if not inline:
            return await loop.run_in_executor(self._pool, answer, handler, request)
        while True:
            try:
                return call_non_blocking(handler, request)
            except WouldBlock:
                pass  # nothing was done: run it again where it may block
            except Exception as exc:
                return error_response(request, exc)
            running = self._rerun.get(loop)
            if running is None:
                return await self._run_in_pool(loop, handler, request)
            # Wait for the one in flight (it may build what this one needs), then try again.
            await asyncio.wait([running])

    async def call(self, fn: Callable[[A], R], arg: A) -> R:
        """``fn(arg)`` on the loop, or in the pool should it block (:func:`may_block`): for
        what an adapter asks before a handler runs, such as the watch a request holds for
        (checking credentials first may run a key derivation)."""
        try:
            return call_non_blocking(fn, arg)
        except WouldBlock:  # nothing was done: run it where it may block
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, arg)

    def close(self) -> None:
        """Let the pool's threads end once their work is done; later answers are errors."""
        self._pool.shutdown(wait=False)

    async def _run_in_pool(
        self, loop: asyncio.AbstractEventLoop, handler: Handler, request: EndpointRequest
    ) -> EndpointResponse:
        self.reruns += 1
        rerun = loop.run_in_executor(self._pool, answer, handler, request)
        self._rerun[loop] = rerun
        try:
            return await rerun
        finally:
            if self._rerun.get(loop) is rerun:
                del self._rerun[loop]
