"""The background runner for the registry's periodic work.

Each task is a plain Registry method (evict, prune_changes, roll_renewal_rate,
update_renewal_threshold) that tests call directly with a frozen clock; this module only
decides when to call them, on real (monotonic) time, in one daemon thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from eureka_embed.memory_release import RELEASE_AFTER, release_free_memory
from eureka_embed.registry import Registry

__all__ = ["MaintenanceRunner"]

log = logging.getLogger(__name__)

#: Eureka prunes its recently-changed queue every 30 s.
_PRUNE_INTERVAL_S = 30.0
_RATE_INTERVAL_S = 60.0


@dataclass(slots=True)
class _Task:
    name: str
    interval_s: float
    run: Callable[[], object]
    due: float = 0.0


class MaintenanceRunner:
    """Runs eviction, delta pruning, renewal-rate roll-over and threshold updates.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``stop`` waits for the
    thread to finish the task it is running. A failing task is logged and tried again at its
    next interval; it never stops the others.
    """

    def __init__(self, registry: Registry, *, interval_scale: float = 1.0) -> None:
        config = registry.config
        self.registry = registry
        self._tasks = [
            _Task(
                "evict",
                config.eviction_interval_ms / 1000 * interval_scale,
                lambda: self._release_after(len(registry.evict())),
            ),
            _Task(
                "prune",
                _PRUNE_INTERVAL_S * interval_scale,
                lambda: self._release_after(registry.prune_changes()),
            ),
            _Task("rate", _RATE_INTERVAL_S * interval_scale, registry.roll_renewal_rate),
            _Task(
                "threshold",
                config.renewal_threshold_update_interval_ms / 1000 * interval_scale,
                registry.update_renewal_threshold,
            ),
        ]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs: dict[str, int] = {task.name: 0 for task in self._tasks}
        #: How many times freed memory was handed back (after large prunes and evictions).
        self.releases = 0

    def _release_after(self, freed: int) -> None:
        """After a pass that dropped a storm's worth, hand the freed memory back."""
        if freed >= RELEASE_AFTER:
            self.releases += 1
            release_free_memory()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            raise RuntimeError("maintenance runner already started")
        self._stop.clear()
        start = time.monotonic()
        for task in self._tasks:
            task.due = start + task.interval_s
        self._thread = threading.Thread(
            target=self._loop, name="eureka-embed-maintenance", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("maintenance thread did not stop within %.1f s", timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for task in self._tasks:
                if now >= task.due and not self._stop.is_set():
                    self._run(task)
                    task.due = now + task.interval_s
            next_due = min(task.due for task in self._tasks)
            self._stop.wait(max(next_due - time.monotonic(), 0.0))

    def _run(self, task: _Task) -> None:
        try:
            task.run()
        except Exception:
            log.exception("maintenance task %s failed", task.name)
        finally:
            self.runs[task.name] += 1

    def __enter__(self) -> MaintenanceRunner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
