"""The discovery client's local copy of the registry: full replacements and delta merges.

One writer (the refresh task) builds a new immutable :class:`CacheView` after each change and
publishes it with a single reference swap; lookups read whichever view is current without a
lock, so they never wait, least of all on the network. A delta only rebuilds the applications
it touches, and the view's hashcode comes from per-status counts the writer keeps with each
change, so a merge costs what the delta holds, not what the registry holds. Per-view indexes
(UP instances of an app, instances of a VIP) are built on first use and kept with the view.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from eureka_embed.model import (
    ActionType,
    Application,
    Applications,
    InstanceInfo,
    InstanceStatus,
    apps_hashcode,
)

__all__ = ["CacheView", "DeltaOutcome", "RegistryCache"]

_UP = InstanceStatus.UP


class CacheView:
    """The registry as the client last saw it. Immutable; safe to share between threads."""

    __slots__ = ("_by_svip", "_by_vip", "_up", "apps", "hashcode", "version")

    def __init__(
        self, apps: Mapping[str, Application], version: str, hashcode: str | None = None
    ) -> None:
        """``hashcode``: that of ``apps``, when the caller keeps it; else counted here."""
        self.apps: Mapping[str, Application] = MappingProxyType(dict(apps))
        self.version = version
        if hashcode is None:
            hashcode = apps_hashcode(i for app in self.apps.values() for i in app.instances)
        self.hashcode = hashcode
        self._up: dict[str, tuple[InstanceInfo, ...]] = {}
        self._by_vip: dict[str, tuple[InstanceInfo, ...]] | None = None
        self._by_svip: dict[str, tuple[InstanceInfo, ...]] | None = None

    def __len__(self) -> int:
        return sum(len(app) for app in self.apps.values())

    def same_instances(self, other: CacheView) -> bool:
        """Whether both views hold the same instances, whatever their order or version."""
        if self.apps is other.apps:
            return True
        if self.apps.keys() != other.apps.keys():
            return False
        for name, app in self.apps.items():
            theirs = other.apps[name]
            # A delta rebuilds only the applications it touched; the others are shared.
            if app is theirs:
                continue
            if len(app.instances) != len(theirs.instances):
                return False
            if _by_id(app) != _by_id(theirs):
                return False
        return True

    def applications(self) -> Applications:
        """The view as a model snapshot (applications sorted by name)."""
        ordered = tuple(self.apps[name] for name in sorted(self.apps))
        return Applications(ordered, self.version, self.hashcode)

    def instances(self, app: str, *, only_up: bool) -> tuple[InstanceInfo, ...]:
        name = app.upper()
        if not only_up:
            found = self.apps.get(name)
            return found.instances if found is not None else ()
        cached = self._up.get(name)
        if cached is None:
            found = self.apps.get(name)
            members = found.instances if found is not None else ()
            # Benign race: two readers may both build it; both get the same answer.
            cached = self._up[name] = tuple(i for i in members if i.status is _UP)
        return cached

    def by_vip(self, vip: str, *, secure: bool, only_up: bool) -> tuple[InstanceInfo, ...]:
        index = self._by_svip if secure else self._by_vip
        if index is None:
            index = self._vip_index(secure)
            if secure:
                self._by_svip = index
            else:
                self._by_vip = index
        found = index.get(vip.strip().lower(), ())
        return tuple(i for i in found if i.status is _UP) if only_up else found

    def _vip_index(self, secure: bool) -> dict[str, tuple[InstanceInfo, ...]]:
        index: dict[str, list[InstanceInfo]] = {}
        for app in self.apps.values():
            for instance in app.instances:
                names = instance.secure_vip_names() if secure else instance.vip_names()
                for name in names:
                    index.setdefault(name.lower(), []).append(instance)
        return {name: tuple(members) for name, members in index.items()}


@dataclass(frozen=True, slots=True)
class DeltaOutcome:
    """What merging a delta did: whether the cache changed, and whether it now agrees with
    the server (its hashcode equals the delta's ``apps__hashcode``)."""

    changed: bool
    consistent: bool
    local_hashcode: str
    server_hashcode: str


class RegistryCache:
    """Holds the current :class:`CacheView` and builds the next one. Writes are serialised."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # app name -> instance id -> instance: the writer's working copy behind the views.
        self._apps: dict[str, dict[str, InstanceInfo]] = {}
        # Instances of the working copy per status, kept with each change: a delta's view then
        # gets its hashcode without counting the whole registry again.
        self._counts: dict[str, int] = {}
        self._view = CacheView({}, "-1")

    @property
    def view(self) -> CacheView:
        return self._view

    def replace(self, applications: Applications) -> bool:
        """Adopt a full registry; whether anything differs from before."""
        fresh: dict[str, dict[str, InstanceInfo]] = {}
        for app in applications.applications:
            members = fresh.setdefault(app.name.upper(), {})
            for instance in app.instances:
                members[instance.instance_id] = instance
        fresh = {name: members for name, members in fresh.items() if members}
        counts: dict[str, int] = {}
        for members in fresh.values():
            for instance in members.values():
                key = instance.status.value
                counts[key] = counts.get(key, 0) + 1
        with self._lock:
            changed = fresh != self._apps
            self._apps = fresh
            self._counts = counts
            apps = {name: Application(name, tuple(m.values())) for name, m in fresh.items()}
            self._view = CacheView(apps, applications.version, _hashcode(counts))
        return changed

    def _count(self, instance: InstanceInfo, step: int) -> None:
        key = instance.status.value
        self._counts[key] = self._counts.get(key, 0) + step

    def apply_delta(self, delta: Applications) -> DeltaOutcome:
        """Merge ``delta`` by action type: ADDED and MODIFIED add or replace, DELETED removes."""
        with self._lock:
            touched: set[str] = set()
            for instance in _delta_instances(delta):
                name = instance.app.upper()
                if instance.action_type is ActionType.DELETED:
                    members = self._apps.get(name)
                    if members is not None and instance.instance_id in members:
                        self._count(members.pop(instance.instance_id), -1)
                        touched.add(name)
                else:
                    members = self._apps.setdefault(name, {})
                    # Deltas repeat a change for minutes; only a different copy is a change.
                    before = members.get(instance.instance_id)
                    if before != instance:
                        if before is not None:
                            self._count(before, -1)
                        self._count(instance, 1)
                        members[instance.instance_id] = instance
                        touched.add(name)
            view = self._view
            if touched:
                apps = dict(view.apps)
                for name in touched:
                    members = self._apps.get(name)
                    if members:
                        apps[name] = Application(name, tuple(members.values()))
                    else:
                        self._apps.pop(name, None)
                        apps.pop(name, None)
                view = self._view = CacheView(apps, delta.version, _hashcode(self._counts))
        return DeltaOutcome(
            changed=bool(touched),
            consistent=view.hashcode == delta.apps_hashcode,
            local_hashcode=view.hashcode,
            server_hashcode=delta.apps_hashcode,
        )


def _hashcode(counts: Mapping[str, int]) -> str:
    """:func:`~eureka_embed.model.apps_hashcode` of instances counted per status."""
    return "".join(f"{name}_{counts[name]}_" for name in sorted(counts) if counts[name])


def _by_id(app: Application) -> dict[str, InstanceInfo]:
    return {instance.instance_id: instance for instance in app.instances}


def _delta_instances(delta: Applications) -> Iterable[InstanceInfo]:
    for app in delta.applications:
        for instance in app.instances:
            # An instance read from a delta may lack its app; the application names it.
            yield instance if instance.app else instance.evolve(app=app.name)
