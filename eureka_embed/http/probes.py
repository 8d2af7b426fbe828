"""``GET /healthz`` and ``GET /readyz``: the probes an orchestrator asks, open without auth.

``/healthz`` answers 200 whenever the process serves HTTP (liveness: restart it otherwise).
``/readyz`` answers 200 once the node can serve the registry: the start-up copy from peers is
over and the store answers; otherwise 503 with the reason (readiness: send no traffic yet).
``GET status`` reports the same verdict as ``isHealthy``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Final, Protocol, runtime_checkable

from eureka_embed.errors import StorageError
from eureka_embed.http.messages import EndpointRequest, EndpointResponse
from eureka_embed.http.outcomes import HttpRefusal, Outcome
from eureka_embed.storage.base import Store

__all__ = ["Readiness", "healthz", "readyz"]

_TEXT: Final = "text/plain; charset=utf-8"
_NO_STORE: Final = (("Cache-Control", "no-store"),)


@runtime_checkable
class _Syncing(Protocol):
    """A store over a database server (the SQL stores): ``sync`` reads that database."""

    def sync(self) -> None: ...


class Readiness:
    """Whether the node is ready for traffic, and if not why.

    A store in memory always answers; a store over a database server is asked to catch up
    with it (one small read), so a database that is down makes the node unready within one
    probe. :meth:`startup_copy` marks the start-up copy as running (the standalone servers
    listen first and copy in the background, so the probe answers 503 meanwhile), and
    :meth:`copy_progress` says how far it got.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._copies = 0
        self._progress = ""

    @property
    def copying(self) -> bool:
        """Whether a start-up copy runs (full and delta fetches are refused meanwhile)."""
        return self._copies > 0

    def copy_progress(self, text: str) -> None:
        """Where the running copy is (for example which peer it asks), shown in the reason."""
        self._progress = text

    @contextlib.contextmanager
    def startup_copy(self) -> Iterator[None]:
        self.begin_copy()
        try:
            yield
        finally:
            self.end_copy()

    def begin_copy(self) -> None:
        """A copy starts (:meth:`startup_copy` for a block; a server begins in one thread and
        ends in the copying one)."""
        with self._lock:
            self._copies += 1

    def end_copy(self) -> None:
        with self._lock:
            self._copies -= 1
            self._progress = ""

    def reason(self) -> str | None:
        """Why the node is not ready, or None when it is."""
        if self._copies:
            progress = self._progress
            return "start-up copy from peers in progress" + (f" ({progress})" if progress else "")
        try:
            self._store.latest_sequence()
            if isinstance(self._store, _Syncing):
                self._store.sync()
        except StorageError as exc:
            return f"the store does not answer: {exc.reason}"
        return None


def healthz(req: EndpointRequest) -> EndpointResponse:
    """``GET /healthz``: the process serves."""
    return EndpointResponse(200, _TEXT, b"ok\n", _NO_STORE)


def readyz(readiness: Readiness, req: EndpointRequest) -> EndpointResponse:
    """``GET /readyz``: 200 when ready, else 503 with the reason."""
    reason = readiness.reason()
    if reason is not None:
        raise HttpRefusal(Outcome(503, f"not ready: {reason}", _NO_STORE))
    return EndpointResponse(200, _TEXT, b"ready\n", _NO_STORE)
