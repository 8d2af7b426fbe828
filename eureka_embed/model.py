"""The Eureka data model: what an instance, an application and a registry snapshot are.

Every type here is frozen and slotted: the registry hands the same objects to many threads and
caches, so nothing may change them after construction. No I/O and no wire format here; the
``codec`` package is the only place that knows how Eureka spells these on the wire.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, TypeVar, cast

__all__ = [
    "AMAZON_DATA_CENTER_CLASS",
    "DEFAULT_DATA_CENTER_CLASS",
    "EMPTY_METADATA",
    "ActionType",
    "Application",
    "Applications",
    "DataCenterInfo",
    "InstanceInfo",
    "InstanceStatus",
    "LeaseInfo",
    "PortInfo",
    "apps_hashcode",
    "copier",
    "frozen_metadata",
    "hashcode_of_counts",
]

DEFAULT_DATA_CENTER_CLASS = "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo"
AMAZON_DATA_CENTER_CLASS = "com.netflix.appinfo.AmazonInfo"

EMPTY_METADATA: Mapping[str, str] = MappingProxyType({})


def _empty_metadata() -> Mapping[str, str]:
    return EMPTY_METADATA


#: Read-only metadata maps handed out, by their items: instances of one fleet mostly carry the
#: same few entries (zone, management port), and one shared map instead of a copy each saves
#: about 220 bytes per instance. Emptied when full, so metadata unique to each instance cannot
#: grow it without bound (maps already handed out stay shared by those who hold them).
_SHARED_METADATA: dict[tuple[tuple[str, str], ...], Mapping[str, str]] = {}
_SHARED_METADATA_LIMIT = 4096


def frozen_metadata(values: Mapping[str, str] | None) -> Mapping[str, str]:
    """A read-only copy of ``values``; the shared empty mapping when there is nothing, and the
    same map for equal metadata (same entries in the same order)."""
    if not values:
        return EMPTY_METADATA
    if isinstance(values, MappingProxyType):
        return values
    items = tuple(values.items())
    if not all(type(k) is str and type(v) is str for k, v in items):
        # Outside the type (1 == True would share {"a": 1} with {"a": True}): a copy of its own.
        return MappingProxyType(dict(items))
    return shared_metadata(items)


def shared_metadata(items: tuple[tuple[str, str], ...]) -> Mapping[str, str]:
    """The read-only map of ``items``, the same one for equal items (see :func:`frozen_metadata`).

    For readers that have checked already that every key and value is a ``str`` (others must
    not be shared, see above) and that there is at least one pair.
    """
    shared = _SHARED_METADATA.get(items)
    if shared is None:
        if len(_SHARED_METADATA) >= _SHARED_METADATA_LIMIT:
            _SHARED_METADATA.clear()
        shared = _SHARED_METADATA.setdefault(items, MappingProxyType(dict(items)))
    return shared


class InstanceStatus(str, enum.Enum):
    UP = "UP"
    DOWN = "DOWN"
    STARTING = "STARTING"
    OUT_OF_SERVICE = "OUT_OF_SERVICE"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, value: str) -> InstanceStatus:
        """The status spelled ``value`` (any case); ``ValueError`` names the bad value."""
        try:
            return cls[value.strip().upper()]
        except KeyError:
            allowed = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown status {value!r} (expected one of {allowed})") from None

    def __str__(self) -> str:
        return self.value


class ActionType(str, enum.Enum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"

    def __str__(self) -> str:
        return self.value


_M = TypeVar("_M")

#: The fields a model class's ``__post_init__`` normalises (InstanceInfo freezes its metadata).
#: A copy that changes none of them skips it: the other fields come from an object that went
#: through it already.
_NORMALISED: dict[type[Any], frozenset[str]] = {}


def copier(cls: type[_M], *changed: str) -> Callable[..., _M]:
    """``copy(obj, *values)``, the same as ``dataclasses.replace(obj, **dict(zip(changed,
    values)))`` for the frozen, slotted ``cls``, and several times as fast.

    Every write of the registry builds changed instances (a renewal after a status change, a
    cancel, each of the 15,000 leases an eviction pass at 100k removes), and ``replace`` goes
    through ``__init__``'s argument handling and a frozen ``__setattr__`` per field. This
    generates, once per call (as dataclasses does for ``__init__``), a function that copies
    each field straight into a new object through the slot's own setter (``object.__setattr__``
    would look the name up again each time) and takes the changed fields positionally; it runs
    ``__post_init__`` as ``replace`` would, but only when a field that normalises is changed.
    Unknown field names are a TypeError.
    """
    names = tuple(f.name for f in fields(cast(Any, cls)))
    unknown = [n for n in changed if n not in names]
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    namespace.update({f"_set_{n}": cls.__dict__[n].__set__ for n in names})
    lines = [f"def copy({', '.join(('self', *changed))}):", "    new = _new(_cls)"]
    lines += [f"    _set_{n}(new, {n if n in changed else 'self.' + n})" for n in names]
    if not _NORMALISED.get(cls, frozenset()).isdisjoint(changed):
        namespace["_post_init"] = cls.__post_init__  # type: ignore[attr-defined]
        lines.append("    _post_init(new)")
    lines.append("    return new")
    exec("\n".join(lines), namespace)  # only the field names above go in
    return namespace["copy"]  # type: ignore[no-any-return]


def _evolver(cls: type[Any]) -> Callable[[Any, dict[str, Any]], Any]:
    """``dataclasses.replace`` for ``cls`` (see :func:`copier`), the changes given as one dict:
    every field copied, then the changed ones set over them (the copy is not shared yet),
    which is cheaper than asking the changes about each field when most calls change two."""
    copy = copier(cls)
    setters = {f.name: cls.__dict__[f.name].__set__ for f in fields(cls)}
    normalised = _NORMALISED.get(cls, frozenset())
    post_init = getattr(cls, "__post_init__", None)

    def evolve(self: Any, changes: dict[str, Any]) -> Any:
        new = copy(self)
        for name, value in changes.items():
            setter = setters.get(name)
            if setter is None:
                unknown = ", ".join(sorted(set(changes) - setters.keys()))
                raise TypeError(f"{cls.__name__} has no field {unknown}")
            setter(new, value)
        if post_init is not None and not normalised.isdisjoint(changes):
            post_init(new)
        return new

    return evolve


@dataclass(frozen=True, slots=True)
class PortInfo:
    port: int
    enabled: bool


@dataclass(frozen=True, slots=True)
class DataCenterInfo:
    """Where an instance runs. ``MyOwn`` for anything but AWS; ``Amazon`` carries EC2 metadata."""

    name: str = "MyOwn"
    metadata: Mapping[str, str] = field(default_factory=_empty_metadata)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", frozen_metadata(self.metadata))

    @property
    def class_name(self) -> str:
        return AMAZON_DATA_CENTER_CLASS if self.name == "Amazon" else DEFAULT_DATA_CENTER_CLASS


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """Lease terms and timestamps (epoch milliseconds) as Eureka reports them."""

    renewal_interval_secs: int = 30
    duration_secs: int = 90
    registration_timestamp: int = 0
    last_renewal_timestamp: int = 0
    eviction_timestamp: int = 0
    service_up_timestamp: int = 0

    def evolve(self, **changes: Any) -> LeaseInfo:
        """A copy with ``changes`` applied (``dataclasses.replace``, faster)."""
        return _evolve_lease(self, changes)  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """One registered instance, in Eureka's terms. Build variants with :meth:`evolve`."""

    instance_id: str
    app: str
    host_name: str
    ip_addr: str
    status: InstanceStatus = InstanceStatus.UP
    overridden_status: InstanceStatus = InstanceStatus.UNKNOWN
    port: PortInfo = PortInfo(7001, True)
    secure_port: PortInfo = PortInfo(7002, False)
    country_id: int = 1
    data_center_info: DataCenterInfo = DataCenterInfo()
    lease_info: LeaseInfo = LeaseInfo()
    metadata: Mapping[str, str] = field(default_factory=_empty_metadata)
    sid: str | None = "na"
    app_group_name: str | None = None
    home_page_url: str | None = None
    status_page_url: str | None = None
    health_check_url: str | None = None
    secure_health_check_url: str | None = None
    vip_address: str | None = None
    secure_vip_address: str | None = None
    is_coordinating_discovery_server: bool = False
    last_updated_timestamp: int = 0
    last_dirty_timestamp: int = 0
    action_type: ActionType | None = None
    asg_name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", frozen_metadata(self.metadata))

    def evolve(self, **changes: Any) -> InstanceInfo:
        """A copy with ``changes`` applied (``dataclasses.replace``, faster)."""
        return _evolve_instance(self, changes)  # type: ignore[no-any-return]

    def vip_names(self) -> tuple[str, ...]:
        return _split_vips(self.vip_address)

    def secure_vip_names(self) -> tuple[str, ...]:
        return _split_vips(self.secure_vip_address)


_NORMALISED[InstanceInfo] = frozenset({"metadata"})
_evolve_lease = _evolver(LeaseInfo)
_evolve_instance = _evolver(InstanceInfo)


def _split_vips(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True, slots=True)
class Application:
    """All instances registered under one (upper-cased) application name."""

    name: str
    instances: tuple[InstanceInfo, ...] = ()

    def __iter__(self) -> Iterator[InstanceInfo]:
        return iter(self.instances)

    def __len__(self) -> int:
        return len(self.instances)

    def get(self, instance_id: str) -> InstanceInfo | None:
        for instance in self.instances:
            if instance.instance_id == instance_id:
                return instance
        return None


@dataclass(frozen=True, slots=True)
class Applications:
    """A registry snapshot (full or delta) with its version and the full registry's hashcode."""

    applications: tuple[Application, ...] = ()
    version: str = "1"
    apps_hashcode: str = ""

    @classmethod
    def of(
        cls, instances: Iterable[InstanceInfo], *, version: str = "1", hashcode: str | None = None
    ) -> Applications:
        """Group ``instances`` by app (sorted by name, then instance id, so payloads are stable).

        The hashcode defaults to that of ``instances`` themselves; a delta passes the full
        registry's.
        """
        by_app: dict[str, list[InstanceInfo]] = {}
        for instance in instances:
            by_app.setdefault(instance.app, []).append(instance)
        apps = tuple(
            Application(name, tuple(sorted(members, key=lambda i: i.instance_id)))
            for name, members in sorted(by_app.items())
        )
        if hashcode is None:
            hashcode = apps_hashcode(i for app in apps for i in app.instances)
        return cls(apps, version, hashcode)

    def __iter__(self) -> Iterator[Application]:
        return iter(self.applications)

    def get(self, name: str) -> Application | None:
        upper = name.upper()
        for app in self.applications:
            if app.name == upper:
                return app
        return None

    def instances(self) -> Iterator[InstanceInfo]:
        for app in self.applications:
            yield from app.instances


def apps_hashcode(instances: Iterable[InstanceInfo]) -> str:
    """Eureka's reconcile hashcode: ``STATUS_count_`` for each status present, sorted by name.

    Clients compare it with the hashcode of their merged cache to detect a bad delta merge.
    It counts each instance's own ``status`` (the one an override already set), whatever its
    lease: an expired lease not yet evicted is counted.
    """
    counts: dict[str, int] = {}
    for instance in instances:
        key = instance.status.value
        counts[key] = counts.get(key, 0) + 1
    return hashcode_of_counts(counts)


def hashcode_of_counts(counts: Mapping[str, int]) -> str:
    """The hashcode of a registry holding ``counts[status]`` instances of each status.

    For stores that keep the counts as they go (:mod:`eureka_embed.storage.record_index`):
    zero counts are left out, as a status no instance has is absent from the hashcode.
    """
    return "".join(f"{name}_{counts[name]}_" for name in sorted(counts) if counts[name])
