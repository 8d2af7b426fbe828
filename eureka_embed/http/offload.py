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
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from eureka_embed.blocking import WouldBlock, call_non_blocking
from eureka_embed.http.endpoints import answer
from eureka_embed.http.messages import EndpointRequest, EndpointResponse, Handler
from eureka_embed.http.responses import error_response

__all__ = ["DEFAULT_BLOCKING_THREADS", "EventLoopAnswers"]

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

    async def answer(
        self, handler: Handler, request: EndpointRequest, *, inline: bool
    ) -> EndpointResponse:
        """What :func:`~eureka_embed.http.endpoints.answer` gives, without blocking the loop."""
        if inline:
            try:
                return call_non_blocking(handler, request)
            except WouldBlock:
                pass  # nothing was done: run it again where it may block
            except Exception as exc:
                return error_response(request, exc)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, answer, handler, request)
