"""Test helpers: registries, a live server, a client and frozen time, for your own tests.

The pytest plugin (:mod:`eureka_embed.pytest_plugin`) builds its fixtures from these; compose
them in your own conftest when the fixtures do not fit::

    @pytest.fixture
    def registry(tmp_path):
        registry = sqlite_registry(tmp_path / "eureka.db")
        yield registry
        registry.close()

Test registries default to :data:`TESTING_CONFIG`: Eureka's rules, except that
self-preservation is off and eviction runs every second. With self-preservation on, a fresh
registry whose one instance never renews keeps it for ever (one expected client plus the
instance make a threshold of 3 renewals a minute; 0 arrive), which is Eureka being careful, not
what a test about lease expiry wants. Pass ``config=`` to get Eureka's defaults back.

Importing this module is cheap: SQLite needs the ``sql`` extra, the server the ``server``
extra and :class:`RegistryTime` freezegun (the ``testing`` extra has them all), each imported
when first used.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from eureka_embed.clock import Clock
from eureka_embed.config import RegistryConfig
from eureka_embed.maintenance import _PRUNE_INTERVAL_S, _RATE_INTERVAL_S
from eureka_embed.registry import Registry

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory, _freeze_time

    from eureka_embed.client.config import TransportConfig
    from eureka_embed.client.contract import EurekaHttpClient
    from eureka_embed.server import EurekaServer

__all__ = [
    "TESTING_CONFIG",
    "RegistryTime",
    "config_for_tests",
    "http_client",
    "live_server",
    "memory_registry",
    "sqlite_registry",
]

#: What test registries run with unless told otherwise (see the module docstring).
TESTING_CONFIG = RegistryConfig(self_preservation=False, eviction_interval_ms=1_000)


def config_for_tests(**changes: Any) -> RegistryConfig:
    """:data:`TESTING_CONFIG` changed, e.g. ``config_for_tests(self_preservation=True)``."""
    return dataclasses.replace(TESTING_CONFIG, **changes)


def memory_registry(config: RegistryConfig | None = None, clock: Clock | None = None) -> Registry:
    """A registry in memory; ``config`` defaults to :data:`TESTING_CONFIG`."""
    return Registry(config=config if config is not None else TESTING_CONFIG, clock=clock)


def sqlite_registry(
    path: str | Path,
    config: RegistryConfig | None = None,
    clock: Clock | None = None,
    *,
    background: bool = False,
) -> Registry:
    """A registry in the SQLite file ``path``, created and migrated as needed.

    The store's background thread (renewal flushes, reading other writers' changes) is off by
    default, so every effect comes from the call a test makes; closing the registry writes the
    pending renewals. Pass ``background=True`` when several stores share the file.
    """
    from eureka_embed.storage.sql import SqlStore

    store = SqlStore(f"sqlite:///{Path(path)}", migrate_schema=True, background=background)
    config = config if config is not None else TESTING_CONFIG
    return Registry(store, config, clock, owns_store=True)  # registry.close() closes it


@contextmanager
def live_server(
    registry: Registry, *, maintenance: bool = True, threads: int = 4
) -> Iterator[EurekaServer]:
    """``registry`` served by waitress on 127.0.0.1 on a free port, stopped on exit.

    The registry stays the caller's. Pass ``maintenance=False`` when something else runs its
    periodic work, e.g. :meth:`RegistryTime.advance`.
    """
    from eureka_embed.server import EurekaServer

    server = EurekaServer(
        registry, host="127.0.0.1", port=0, threads=threads, maintenance=maintenance
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def http_client(base_url: str, config: TransportConfig | None = None) -> EurekaHttpClient:
    """The full client stack (sessions, retries, redirects, metrics) for the server at
    ``base_url``; call ``shutdown()`` (or use it as a context manager) when done."""
    from eureka_embed.client.factory import registration_client

    return registration_client(base_url, config=config)


# ---------------------------------------------------------------------- frozen time


@dataclass(slots=True)
class _Timer:
    interval_ms: int
    due_ms: int
    run: Callable[[], object]


def _timers(registry: Registry, now_ms: int) -> list[_Timer]:
    """The registry's periodic work, in the order and at the intervals MaintenanceRunner uses."""
    config = registry.config
    intervals: list[tuple[int, Callable[[], object]]] = [
        (config.eviction_interval_ms, registry.evict),
        (round(_PRUNE_INTERVAL_S * 1000), registry.prune_changes),
        (round(_RATE_INTERVAL_S * 1000), registry.roll_renewal_rate),
        (config.renewal_threshold_update_interval_ms, registry.update_renewal_threshold),
    ]
    return [_Timer(interval, now_ms + interval, run) for interval, run in intervals]


class _FrozenClock:
    """Reads the frozen instant directly, so it is right on any thread.

    freezegun decides per call whether a caller gets frozen time, by looking at the modules on
    its call stack; a registry called from a worker thread should not depend on that.
    """

    __slots__ = ("_time",)

    def __init__(self, time: RegistryTime) -> None:
        self._time = time

    def now_ms(self) -> int:
        return self._time.now_ms()


class RegistryTime:
    """Frozen time (freezegun) that also runs registries' maintenance as its timers would.

    ``advance(91)`` moves the clock 91 seconds, stopping at every instant a maintenance timer
    of an attached registry would fire (eviction, delta pruning, renewal-rate roll-over,
    threshold update) to run it there, so a test reads as the story it tells::

        with RegistryTime() as time:
            registry = time.attach(memory_registry(clock=time.clock))
            registry.register(instance)  # a 90 s lease, never renewed
            time.advance(91)
            assert registry.get_application(instance.app) is None  # evicted

    Everything that reads ``time.time()``, ``datetime.now()`` and friends sees the frozen time
    too, the way freezegun does it. ``start`` defaults to the current time rounded up to the
    next whole second: a registry made just before freezing then has not started "in the
    future", and whole seconds keep millisecond arithmetic exact.
    """

    def __init__(self, start: dt.datetime | str | None = None) -> None:
        self._start = start
        self._freezer: _freeze_time | None = None
        self._factory: FrozenDateTimeFactory | None = None
        self._timers: dict[int, tuple[Registry, list[_Timer]]] = {}
        self.clock: Clock = _FrozenClock(self)
        """A clock for registries that must follow this time from any thread."""

    # ------------------------------------------------------------------ freezing

    def start(self) -> RegistryTime:
        """Freeze time; returns self."""
        from freezegun import freeze_time
        from freezegun.api import FrozenDateTimeFactory

        if self._freezer is not None:
            raise RuntimeError("RegistryTime already started")
        start = self._start
        if start is None:
            now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
            start = now.replace(microsecond=0) + dt.timedelta(seconds=1)
        # pytest's own timing stays real, or --durations and JUnit reports show frozen spans.
        freezer = freeze_time(start, ignore=["_pytest.timing"])
        factory = freezer.start()
        if not isinstance(factory, FrozenDateTimeFactory):  # tick=False makes one
            freezer.stop()
            raise TypeError(f"freezegun gave {type(factory).__name__}, not a frozen factory")
        self._freezer, self._factory = freezer, factory
        return self

    def stop(self) -> None:
        """Unfreeze time. Safe to call more than once."""
        freezer, self._freezer = self._freezer, None
        if freezer is not None:
            freezer.stop()

    def __enter__(self) -> RegistryTime:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ reading

    def now(self) -> dt.datetime:
        """The frozen instant, naive UTC (as freezegun keeps it)."""
        if self._factory is None:
            raise RuntimeError("RegistryTime is not started")
        return self._factory()

    def now_ms(self) -> int:
        """The frozen instant in epoch milliseconds, exactly as ``time.time()`` reports it."""
        now = self.now()
        # freezegun's own arithmetic, so this never differs from SystemClock by a rounding.
        return int((calendar.timegm(now.timetuple()) + now.microsecond / 1_000_000) * 1000)

    # ------------------------------------------------------------------ registries

    def attach(self, registry: Registry) -> Registry:
        """Run ``registry``'s maintenance on :meth:`advance`; returns it.

        Its timers start now. Do not also run a MaintenanceRunner (or a server's maintenance)
        on it: that one runs on real time. Detach it before closing it, or the next advance
        runs the maintenance of a closed registry.

        :raises ValueError: the registry does not follow this time (e.g. a ManualClock), or
            started after the frozen instant (made before freezing at an earlier time), so its
            leases would get a grace period that never ends.
        """
        now = self.now_ms()
        if abs(registry.clock.now_ms() - now) > 1:
            raise ValueError(
                "the registry's clock does not follow the frozen time; give it RegistryTime.clock"
            )
        if registry.started_ms > now + 1:
            raise ValueError(
                "the registry started after the frozen instant; create it after freezing time"
            )
        self._timers[id(registry)] = (registry, _timers(registry, now))
        return registry

    def detach(self, registry: Registry) -> None:
        """Stop running ``registry``'s maintenance (it may be closed afterwards)."""
        self._timers.pop(id(registry), None)

    def advance(self, seconds: float) -> int:
        """Move time forward by ``seconds``, running the attached registries' maintenance at
        each instant its timers fire on the way. Returns the new time in epoch milliseconds.

        With the testing config (eviction every second), a 90 s lease registered now and never
        renewed is gone after ``advance(91)``.
        """
        if not (seconds >= 0 and math.isfinite(seconds)):
            raise ValueError(f"seconds must be a non-negative number, got {seconds!r}")
        start = self.now()
        base_ms = self.now_ms()
        target_ms = base_ms + round(seconds * 1000)
        while True:
            due_ms = min(
                (timer.due_ms for _, timers in self._timers.values() for timer in timers),
                default=None,
            )
            if due_ms is None or due_ms > target_ms:
                break
            self._move(start, due_ms - base_ms)
            for _, timers in list(self._timers.values()):
                for timer in timers:
                    if timer.due_ms <= due_ms:
                        timer.due_ms += timer.interval_ms
                        timer.run()
        self._move(start, target_ms - base_ms)
        return target_ms

    def _move(self, start: dt.datetime, offset_ms: int) -> None:
        assert self._factory is not None
        self._factory.move_to(start + dt.timedelta(milliseconds=offset_ms))
