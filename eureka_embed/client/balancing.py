"""Which instance of a service a call goes to, and which instances to leave alone for a while.

An :class:`InstanceChooser` picks one instance out of candidates that are all fit to serve (UP,
not cooling off, not yet tried for this request): round robin (the default), random, the
client's own zone first (as Spring Cloud LoadBalancer's zone preference does), or weights read
from an instance metadata key. Choosers compose: :class:`ZonePreference` narrows the
candidates, then hands them to another chooser.

:class:`CoolingOff` remembers the instances a call failed on and keeps them out of the
candidates for a cooling period, or until the registry shows the instance changed
(registered again, another address): a restarted instance is taken back at once.

Nothing here blocks or does I/O: it runs on the request path, in threads and on event loops.
"""

from __future__ import annotations

import itertools
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Sequence

from eureka_embed.clock import Clock, system_clock
from eureka_embed.model import InstanceInfo

__all__ = [
    "CoolingOff",
    "InstanceChooser",
    "RandomChoice",
    "RoundRobin",
    "Weighted",
    "ZonePreference",
    "instance_zone",
]

#: Spring Cloud's instance metadata key for the zone (``eureka.instance.metadata-map.zone``).
ZONE_METADATA_KEY = "zone"
#: Where an instance in AWS carries its zone (its data center's metadata).
AWS_ZONE_KEY = "availability-zone"


class InstanceChooser(ABC):
    """Picks the instance of a service that the next call goes to.

    Called on the request path from any thread or event loop: it must not block, and must
    tolerate being called concurrently (a lost round-robin step is harmless).
    """

    @abstractmethod
    def choose(self, service: str, candidates: Sequence[InstanceInfo]) -> InstanceInfo:
        """One of ``candidates`` (never empty) for a call to ``service`` (the name the
        caller used: an application or a VIP address)."""


class RoundRobin(InstanceChooser):
    """Each service's candidates in turn."""

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count[int]] = {}

    def choose(self, service: str, candidates: Sequence[InstanceInfo]) -> InstanceInfo:
        counter = self._counters.get(service)
        if counter is None:
            counter = self._counters.setdefault(service, itertools.count())
        return candidates[next(counter) % len(candidates)]


class RandomChoice(InstanceChooser):
    """A candidate at random (``rng`` for tests)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng if rng is not None else random.Random()

    def choose(self, service: str, candidates: Sequence[InstanceInfo]) -> InstanceInfo:
        return candidates[self._rng.randrange(len(candidates))]


class Weighted(InstanceChooser):
    """A candidate at random, in proportion to the weight in its metadata under ``key``.

    An instance without the key, or with a value that is not a finite number >= 0, weighs
    ``default``. Weight 0 gets no traffic while another candidate weighs more.
    """

    def __init__(
        self, key: str = "weight", *, default: float = 1.0, rng: random.Random | None = None
    ) -> None:
        if not (default >= 0 and math.isfinite(default)):
            raise ValueError("the default weight must be a finite number >= 0")
        self.key = key
        self.default = default
        self._rng = rng if rng is not None else random.Random()

    def weight(self, instance: InstanceInfo) -> float:
        text = instance.metadata.get(self.key)
        if text is None:
            return self.default
        try:
            value = float(text)
        except ValueError:
            return self.default
        return value if value >= 0 and math.isfinite(value) else self.default

    def choose(self, service: str, candidates: Sequence[InstanceInfo]) -> InstanceInfo:
        weights = [self.weight(i) for i in candidates]
        if not any(weights):
            return candidates[self._rng.randrange(len(candidates))]
        return self._rng.choices(candidates, weights)[0]


class ZonePreference(InstanceChooser):
    """Candidates in ``zone`` while there is one, all of them when there is none; ``then``
    (round robin by default) picks among those."""

    def __init__(self, zone: str, then: InstanceChooser | None = None) -> None:
        self.zone = zone
        self.then = then if then is not None else RoundRobin()

    def choose(self, service: str, candidates: Sequence[InstanceInfo]) -> InstanceInfo:
        local = [i for i in candidates if instance_zone(i) == self.zone]
        return self.then.choose(service, local or candidates)


def instance_zone(instance: InstanceInfo) -> str | None:
    """The zone an instance says it is in: its ``zone`` metadata (Spring Cloud's), else its
    AWS data center's availability zone; None when it says neither."""
    zone = instance.metadata.get(ZONE_METADATA_KEY)
    if zone:
        return zone
    return instance.data_center_info.metadata.get(AWS_ZONE_KEY) or None


def _fingerprint(instance: InstanceInfo) -> tuple[object, ...]:
    """What changes when the registry has news of an instance: registered again or its
    status changed (timestamps), or it moved (address, ports)."""
    return (
        instance.last_dirty_timestamp,
        instance.last_updated_timestamp,
        instance.host_name,
        instance.port.port,
        instance.secure_port.port,
    )


class CoolingOff:
    """Instances a call failed on, left out for ``period_s`` or until the registry changes
    them. Keyed by instance id; safe to share between threads (single dict operations)."""

    def __init__(self, period_s: float, clock: Clock | None = None) -> None:
        if not (period_s >= 0 and math.isfinite(period_s)):
            raise ValueError("the cooling period must be a finite number of seconds >= 0")
        self.period_ms = round(period_s * 1000)
        self._clock = clock if clock is not None else system_clock
        self._failed: dict[str, tuple[int, tuple[object, ...]]] = {}

    def failed(self, instance: InstanceInfo) -> None:
        """A call to ``instance`` failed: leave it out from now on, for the period."""
        if self.period_ms:
            until = self._clock.now_ms() + self.period_ms
            self._failed[instance.instance_id] = (until, _fingerprint(instance))

    def cooling(self, instance: InstanceInfo) -> bool:
        entry = self._failed.get(instance.instance_id)
        if entry is None:
            return False
        until, fingerprint = entry
        if self._clock.now_ms() < until and fingerprint == _fingerprint(instance):
            return True
        # Its time is up, or the registry has news of it: taken back.
        self._failed.pop(instance.instance_id, None)
        return False

    def usable(self, candidates: Sequence[InstanceInfo]) -> Sequence[InstanceInfo]:
        """``candidates`` less those cooling off (the same sequence when none is)."""
        if not self._failed:
            return candidates
        return [i for i in candidates if not self.cooling(i)]
