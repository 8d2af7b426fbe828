"""What the dashboard remembers that the registry does not: recent leases and an hour of samples.

:class:`DashboardHistory` listens to the registry: the last :data:`LEASES_KEPT` registrations
and the last :data:`LEASES_KEPT` cancels or evictions, newest first (Spring's dashboard shows as
many), and one sample a minute of renewals in the last minute and the instance count, for the
last hour. Everything is in memory and bounded; a restart forgets it, as Eureka's does.

Samples are taken when something happens (a write, a look at the dashboard), never by a timer
of their own: an embedded app starts no thread for a page nobody opens. A minute in which
nothing happened and nobody looked has no sample, and the chart shows the gap.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from typing import Final, NamedTuple

from eureka_embed.events import RegistryEvent, WriteAction
from eureka_embed.model import InstanceInfo
from eureka_embed.registry import Registry

__all__ = ["LEASES_KEPT", "SAMPLES_KEPT", "DashboardHistory", "LeaseEntry", "Sample"]

LEASES_KEPT: Final = 1000
SAMPLES_KEPT: Final = 60
_MINUTE_MS: Final = 60_000


class LeaseEntry(NamedTuple):
    """A lease that began or ended: ``kind`` is registered, cancelled or evicted."""

    at_ms: int
    kind: str
    app: str
    instance_id: str


class Sample(NamedTuple):
    """The registry at the end of the minute starting ``minute_ms`` (or when last looked)."""

    minute_ms: int
    renews_last_minute: int
    instances: int


class DashboardHistory:
    """Fed by ``registry``'s listeners once :meth:`attach` ran; read by the dashboard's data."""

    def __init__(self, registry: Registry, *, leases_kept: int = LEASES_KEPT) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        self._registered: deque[LeaseEntry] = deque(maxlen=leases_kept)
        self._ended: deque[LeaseEntry] = deque(maxlen=leases_kept)
        self._samples: deque[Sample] = deque(maxlen=SAMPLES_KEPT)

    def attach(self) -> DashboardHistory:
        self._registry.add_listener(self.on_write, heartbeats=False)
        self._registry.add_eviction_listener(self.on_evicted)
        return self

    def on_write(self, event: RegistryEvent) -> None:
        action = event.action
        now = self._registry.clock.now_ms()
        if action is WriteAction.REGISTER:
            entry = LeaseEntry(now, "registered", event.app, event.instance_id)
            with self._lock:
                self._registered.appendleft(entry)
        elif action is WriteAction.CANCEL:
            entry = LeaseEntry(now, "cancelled", event.app, event.instance_id)
            with self._lock:
                self._ended.appendleft(entry)
        self.sample(now, only_if_due=True)

    def on_evicted(self, instances: Sequence[InstanceInfo]) -> None:
        now = self._registry.clock.now_ms()
        with self._lock:
            for instance in instances:
                self._ended.appendleft(
                    LeaseEntry(now, "evicted", instance.app, instance.instance_id)
                )
        self.sample(now, only_if_due=True)

    def sample(
        self, now_ms: int, *, instances: int | None = None, only_if_due: bool = False
    ) -> None:
        """Record the registry now as the sample of the current minute (replacing an earlier one).

        ``only_if_due``: only when this minute has no sample yet (writes call it so; counting
        the instances of a SQL store is a query, not to be made on every write).
        """
        minute = now_ms - now_ms % _MINUTE_MS
        with self._lock:
            latest = self._samples[-1] if self._samples else None
        if only_if_due and latest is not None and latest.minute_ms == minute:
            return
        count = self._registry.store.count() if instances is None else instances
        fresh = Sample(minute, self._registry.renews_last_minute(), count)
        with self._lock:
            if self._samples and self._samples[-1].minute_ms == minute:
                self._samples[-1] = fresh
            elif not self._samples or self._samples[-1].minute_ms < minute:
                self._samples.append(fresh)

    def registered(self) -> list[LeaseEntry]:
        with self._lock:
            return list(self._registered)

    def ended(self) -> list[LeaseEntry]:
        with self._lock:
            return list(self._ended)

    def samples(self, now_ms: int) -> list[Sample]:
        """The samples of the last hour, oldest first."""
        since = now_ms - now_ms % _MINUTE_MS - (SAMPLES_KEPT - 1) * _MINUTE_MS
        with self._lock:
            return [s for s in self._samples if s.minute_ms >= since]
