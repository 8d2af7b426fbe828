"""Watches: Eureka reads as blocking queries (the way Consul's work), for any web framework.

Every answer of a watchable read (``GET apps``, ``apps/delta``, ``apps/{APP}``,
``apps/{APP}/{id}``, ``vips/{vip}``, ``svips/{svip}``) carries :data:`INDEX_HEADER`, the index
of the view it shows (:mod:`eureka_embed.storage.view_index`). The same read with
``?index=N`` is held while the view's index is still ``N``: it is answered as soon as the view
changes, or when ``wait`` ends (``&wait=30s``, default :data:`DEFAULT_WAIT_S`, at most
:data:`MAX_WAIT_S`), then with the same index. Any other ``N`` (the view moved on, or the
server restarted and counts lower) is answered at once. A plain Eureka client never sends
``index`` and never notices any of this.

The adapter holds the request before calling the endpoint: a synchronous one (WSGI: a thread
per request) calls :meth:`Watches.wait`, an asyncio one awaits :meth:`Watches.wait_async`.

How waiters wake: one thread per :class:`Watches`, started when the first watcher comes and
ended when the last one leaves, sleeps in the store's
:meth:`~eureka_embed.storage.base.Store.wait_for_change` and on every change wakes the
blocking waiters (a condition) and, with one ``call_soon_threadsafe`` per event loop, the
asyncio ones whose view moved. An asyncio watcher thus costs a future and a timer, no thread:
thousands of them are cheap. :meth:`Watches.close` (or the store's closing) ends every wait at
once, so a server's graceful stop is not held by its watchers.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
import weakref
from collections.abc import Callable
from typing import Final, NamedTuple

from eureka_embed.errors import InvalidInput
from eureka_embed.http.messages import EndpointRequest
from eureka_embed.protocol import INDEX_HEADER
from eureka_embed.storage.base import Store
from eureka_embed.storage.view_index import View

__all__ = [
    "DEFAULT_WAIT_S",
    "INDEX_HEADER",
    "MAX_WAIT_S",
    "WatchRequest",
    "Watches",
    "end_watches_of",
    "parse_wait",
    "watch_request",
]

DEFAULT_WAIT_S: Final = 30.0
#: Longer waits are shortened to this: a proxy or client would time a longer one out anyway.
MAX_WAIT_S: Final = 300.0

# How often the waking thread looks up from the store to see whether it is still needed.
_PUMP_SLICE_S: Final = 0.25

_DURATION: Final = re.compile(r"(\d{1,12}(?:\.\d{1,9})?)(ms|s|m|h)?")
_UNIT_S: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_MAX_INDEX_DIGITS: Final = 19


class WatchRequest(NamedTuple):
    """A read to hold while ``view``'s index is ``after_index``, for at most ``wait_s``."""

    view: View
    after_index: int
    wait_s: float


def parse_wait(text: str) -> float:
    """``wait``'s seconds: ``500ms``, ``30s``, ``5m``, ``1h`` or bare seconds; at most 5 min.

    :raises InvalidInput: not such a duration (a negative one included).
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise InvalidInput(
            f"query parameter wait must be a duration such as 500ms, 30s or 5m, got {text[:40]!r}"
        )
    return min(float(match[1]) * _UNIT_S[match[2]], MAX_WAIT_S)


def watch_request(req: EndpointRequest, view: View) -> WatchRequest | None:
    """The watch ``req`` asks for on ``view``; None when it has no ``index`` parameter.

    :raises InvalidInput: ``index`` is not a non-negative integer, or ``wait`` no duration.
    """
    raw = req.query_value("index")
    if raw is None:
        return None
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > _MAX_INDEX_DIGITS:
        raise InvalidInput(
            f"query parameter index must be a non-negative integer (the {INDEX_HEADER} of an "
            f"earlier answer), got {raw[:40]!r}"
        )
    wait = req.query_value("wait")
    wait_s = DEFAULT_WAIT_S if wait is None else parse_wait(wait)
    return WatchRequest(view, int(text), wait_s)


class _AsyncWaiter:
    __slots__ = ("after", "future", "loop", "view")

    def __init__(self, view: View, after: int, loop: asyncio.AbstractEventLoop) -> None:
        self.view = view
        self.after = after
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)


class Watches:
    """Holds watching reads of ``store`` until their view changes (see the module docstring).

    ``max_blocking`` bounds the :meth:`wait` calls held at once (each holds a thread of the
    web server); one more is answered at once and counted in :attr:`refused`. None: no bound.
    :meth:`wait_async` is not bounded: an asyncio watcher holds no thread.
    """

    def __init__(self, store: Store, *, max_blocking: int | None = None) -> None:
        if max_blocking is not None and max_blocking < 0:
            raise ValueError("max_blocking must not be negative")
        self._store = store
        self._max_blocking = max_blocking
        self._lock = threading.Lock()
        self._changed = threading.Condition(threading.Lock())
        self._blocking = 0
        self._async_waiters: set[_AsyncWaiter] = set()
        self._pump: threading.Thread | None = None
        self._closed = False
        #: Blocking watches answered at once because ``max_blocking`` were already held.
        self.refused = 0
        _LIVE.add(self)

    @property
    def waiting(self) -> int:
        """Watchers held right now, blocking and asyncio ones."""
        return self._blocking + len(self._async_waiters)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran (the server is stopping): watches end at once."""
        return self._closed

    @property
    def max_blocking(self) -> int | None:
        return self._max_blocking

    def index(self, view: View) -> int:
        """The current index of ``view``; read it before the data it goes out with."""
        return self._store.view_index(view)

    def _moved(self, watch: WatchRequest) -> bool:
        return self._closed or self._store.view_index(watch.view) != watch.after_index

    # ------------------------------------------------------------------ waiting

    def wait(self, watch: WatchRequest) -> None:
        """Block until ``watch``'s view moves past its index, its wait ends, or :meth:`close`.

        Returns at once when the view is elsewhere already, or when ``max_blocking``
        watchers are held (then counted in :attr:`refused`).
        """
        if watch.wait_s <= 0 or self._moved(watch):
            return
        deadline = time.monotonic() + watch.wait_s
        # Counted, checked and put to sleep under the condition the pump notifies under: no
        # change slips between the check and the sleep.
        with self._changed:
            with self._lock:
                if self._closed:
                    return
                if self._max_blocking is not None and self._blocking >= self._max_blocking:
                    self.refused += 1
                    return
                self._blocking += 1
                self._start_pump()
            try:
                while not self._moved(watch):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return
                    self._changed.wait(remaining)
            finally:
                with self._lock:
                    self._blocking -= 1

    async def wait_async(self, watch: WatchRequest) -> None:
        """:meth:`wait` for an asyncio event loop: the loop's thread never blocks."""
        if watch.wait_s <= 0 or self._moved(watch):
            return
        loop = asyncio.get_running_loop()
        waiter = _AsyncWaiter(watch.view, watch.after_index, loop)
        with self._lock:
            if self._closed:
                return
            self._async_waiters.add(waiter)
            self._start_pump()
        timer = loop.call_later(watch.wait_s, _resolve, [waiter.future])
        try:
            # Again, now that the pump knows of us: a change between the first look and the
            # registration would otherwise wake nobody.
            if not self._moved(watch):
                await waiter.future
        finally:
            timer.cancel()
            with self._lock:
                self._async_waiters.discard(waiter)

    # ------------------------------------------------------------------ waking

    def _start_pump(self) -> None:
        """Start the waking thread unless it runs (caller holds ``_lock``)."""
        if self._pump is None:
            self._pump = threading.Thread(target=self._run_pump, name="eureka-watches", daemon=True)
            self._pump.start()

    def _run_pump(self) -> None:
        store = self._store
        seen = store.latest_sequence()
        # Whatever changed before ``seen`` was read: its waiters registered before this thread
        # started, and may have looked before that change.
        self._wake()
        while True:
            with self._lock:
                if self._closed or (self._blocking == 0 and not self._async_waiters):
                    self._pump = None
                    return
            started = time.monotonic()
            latest = store.wait_for_change(seen, _PUMP_SLICE_S)
            if latest != seen:
                seen = latest
                self._wake()
            elif time.monotonic() - started < _PUMP_SLICE_S / 2:
                # Unchanged and early: only a closed store answers so; its watches are over.
                self._end_waits()

    def _wake(self) -> None:
        """Wake the blocking waiters, and the asyncio ones whose view moved."""
        with self._changed:
            self._changed.notify_all()
        with self._lock:
            waiters = list(self._async_waiters)
        indexes: dict[View, int] = {}
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for waiter in waiters:
            index = indexes.get(waiter.view)
            if index is None:
                index = indexes[waiter.view] = self._store.view_index(waiter.view)
            if self._closed or index != waiter.after:
                by_loop.setdefault(waiter.loop, []).append(waiter.future)
        for loop, futures in by_loop.items():
            _call_soon(loop, _resolve, futures)

    def _end_waits(self) -> None:
        with self._lock:
            self._closed = True
        self._wake()

    def close(self) -> None:
        """End every wait now; later ones return at once. Safe to call more than once."""
        self._end_waits()
        with self._lock:
            pump = self._pump
        if pump is not None and pump is not threading.current_thread():
            pump.join(_PUMP_SLICE_S * 4)


#: Every Watches not yet collected, so a server can end the watches of a store it serves
#: through an app it did not build (see :func:`end_watches_of`).
_LIVE: weakref.WeakSet[Watches] = weakref.WeakSet()


def end_watches_of(store: Store) -> None:
    """:meth:`Watches.close` every Watches over ``store``: a server stopping answers the
    watches its app holds, whoever built the app (it may be mounted inside a larger one)."""
    for watches in list(_LIVE):
        if watches._store is store:
            watches.close()


def _call_soon(
    loop: asyncio.AbstractEventLoop,
    fn: Callable[[list[asyncio.Future[None]]], None],
    futures: list[asyncio.Future[None]],
) -> None:
    # A loop closed meanwhile has no waiters left to wake.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(fn, futures)
