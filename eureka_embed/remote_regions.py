"""Remote regions: other Eureka regions' registries, followed and served beside our own.

A node started with ``--remote-region NAME=URL`` follows that region's registry the way a
Eureka client does, because it *is* one: a :class:`~eureka_embed.client.DiscoveryClient` that
never registers (full fetch, then deltas checked by the hashcode with a full fetch on a
mismatch, a watch when the remote answers with ``X-Eureka-Index``, back-off while failing).
Netflix's server does the same with its ``RemoteRegionRegistry``, every 30 s by default
(``remoteRegionRegistryFetchInterval``).

Reads that ask ``?regions=NAME[,NAME...]`` (``apps``, ``apps/delta``, ``vips``, ``svips``) get
the remote applications merged into ours, as Netflix's
``AbstractInstanceRegistry.getApplicationsFromMultipleRegions`` merges them:

* an application known here and remotely holds the instances of both; an instance id found in
  both keeps the remote copy (Netflix adds the remote instances to the local application by id,
  the regions in name order: it sorts the names it is given);
* a region name this node does not follow is ignored, as Netflix ignores it (the answer is what
  the other names give; only unknown names: the local registry alone);
* a remote that is down leaves its last fetched copy in the answers (Netflix keeps the last
  registry it fetched and never empties it on failure);
* until every followed region was fetched once, full and delta reads that ask for regions are
  refused with 403, as Netflix's ``shouldAllowAccess(true)`` refuses them; VIP reads are not
  (Netflix asks ``shouldAllowAccess(false)`` there) and add nothing for such a region;
* the hashcode is over everything the answer holds (for a delta: over the merged full
  registry), so a client merging deltas with regions checks what it holds.

A delta with regions adds each remote change of the delta window (3 minutes, as ours): the
follower records what each refresh changed in its copy, with Eureka's action types. (Netflix
adds the last delta it fetched from the remote instead; a client polling at another pace than
the server then misses changes and needs a full fetch, which the hashcode check asks for.)

*Ours:* a read that names regions is not a watch
(:func:`~eureka_embed.http.params.asks_for_regions`): its answer moves with the remote copies
as well, which the watch index does not count, so it carries no ``X-Eureka-Index`` and clients
poll it, as they poll Netflix's servers. And the first fetch runs on a thread of its own
(Netflix's server waits for it at start): a remote that is down must not hold up the node's
start.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from eureka_embed.client.cache import CacheView
from eureka_embed.client.config import DiscoveryConfig
from eureka_embed.client.contract import EurekaHttpClient
from eureka_embed.client.discovery import CacheRefreshed, DiscoveryClient
from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.client.scheduling import Scheduler
from eureka_embed.clock import Clock, system_clock
from eureka_embed.errors import InvalidInput
from eureka_embed.model import (
    ActionType,
    Application,
    Applications,
    InstanceInfo,
    apps_hashcode,
)

__all__ = [
    "DEFAULT_FETCH_INTERVAL_S",
    "RegionFollower",
    "RegionStatus",
    "RemoteRegion",
    "RemoteRegions",
    "following",
]

#: Netflix's ``eureka.remoteRegion.registryFetchIntervalInSeconds`` default.
DEFAULT_FETCH_INTERVAL_S: Final = 30.0
#: How long a remote change stays in our deltas: our own delta window (SPEC section 3).
DEFAULT_RETENTION_MS: Final = 180_000


@dataclass(frozen=True, slots=True)
class RemoteRegion:
    """A region's name (lower case, as Eureka's resources read ``regions``) and service URL."""

    name: str
    url: str

    @classmethod
    def parse(cls, text: str) -> RemoteRegion:
        """``NAME=URL``, e.g. ``eu-west-1=http://eureka.eu:8761/eureka/``.

        :raises ValueError: no ``=``, an empty or comma-holding name, or a URL that is not one.
        """
        name, sep, url = text.partition("=")
        name, url = name.strip().lower(), url.strip()
        if not sep or not name or not url:
            raise ValueError(
                f"must be NAME=URL, e.g. eu-west-1=http://eureka-eu:8761/eureka/, got {text!r}"
            )
        if "," in name or any(c.isspace() for c in name):
            raise ValueError(f"region name must hold no comma or blank, got {name!r}")
        try:
            EurekaEndpoint.parse(url)
        except InvalidInput as exc:
            raise ValueError(exc.reason) from None
        return cls(name, url)


@dataclass(frozen=True, slots=True)
class RegionStatus:
    """How following one region goes, as the dashboard shows it."""

    name: str
    url: str
    #: When a fetch last worked, epoch ms; None: not yet.
    last_success_ms: int | None
    instances: int
    #: False while fetches fail (the copy is then the last one fetched) or before the first.
    ok: bool


class RegionFollower:
    """Keeps a copy of one remote region's registry, and the changes of the delta window.

    ``query_client``, ``scheduler`` and ``clock`` are for tests (a fake client, a
    :class:`~eureka_embed.client.scheduling.ManualScheduler`); by default it talks HTTP to
    the region's URL on threads of its own.
    """

    def __init__(
        self,
        region: RemoteRegion,
        *,
        fetch_interval_s: float = DEFAULT_FETCH_INTERVAL_S,
        retention_ms: int = DEFAULT_RETENTION_MS,
        query_client: EurekaHttpClient | None = None,
        scheduler: Scheduler | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.region = region
        self._clock = clock if clock is not None else system_clock
        self._retention_ms = retention_ms
        config = DiscoveryConfig(
            app_name="eureka-embed-remote-region",
            service_urls=region.url,
            # Fixed, so that building the (never registered) instance asks no resolver.
            host_name="localhost",
            ip_addr="127.0.0.1",
            register_with_eureka=False,
            registry_fetch_interval_s=fetch_interval_s,
            # Netflix's remote registry holds every status; the reader filters, not we.
            filter_only_up_instances=False,
        )
        self.client = DiscoveryClient(
            config,
            registration_client=query_client,
            query_client=query_client,
            scheduler=scheduler,
            clock=self._clock,
        )
        self._lock = threading.Lock()
        self._seen: CacheView = self.client.cache_view
        # (when, instance with its action type), oldest first.
        self._changes: deque[tuple[int, InstanceInfo]] = deque()
        #: Counts the changes of the copy: part of the cache version of answers with regions.
        self.generation = 0
        self.client.add_listener(self._refreshed)

    def start(self) -> None:
        """The first fetch (a failure is logged and retried), then the periodic refresh."""
        self.client.start()

    def stop(self) -> None:
        self.client.shutdown()

    @property
    def view(self) -> CacheView:
        """The copy as last fetched (empty before the first fetch)."""
        return self.client.cache_view

    def _refreshed(self, event: CacheRefreshed) -> None:
        now = self._clock.now_ms()
        with self._lock:
            for instance in _differences(self._seen, event.view):
                self._changes.append((now, instance))
            self._seen = event.view
            self.generation += 1
            self._prune(now)

    def _prune(self, now: int) -> None:
        horizon = now - self._retention_ms
        while self._changes and self._changes[0][0] < horizon:
            self._changes.popleft()

    def recent_changes(self) -> list[InstanceInfo]:
        """Each instance changed in the window once, in its latest state and action type."""
        with self._lock:
            self._prune(self._clock.now_ms())
            latest = {(i.app.upper(), i.instance_id): i for _, i in self._changes}
        return list(latest.values())

    def status(self) -> RegionStatus:
        client = self.client
        last = client.last_successful_fetch_ms
        return RegionStatus(
            self.region.name,
            self.region.url,
            last,
            len(self.view),
            ok=last is not None and not client.fetch_failing,
        )


def _differences(before: CacheView, after: CacheView) -> Iterable[InstanceInfo]:
    """What turned ``before`` into ``after``, as a delta says it (ADDED, MODIFIED, DELETED)."""
    for name in before.apps.keys() | after.apps.keys():
        old, new = before.apps.get(name), after.apps.get(name)
        if old is new:
            continue  # a delta rebuilds only the applications it touched
        old_by_id = {i.instance_id: i for i in old.instances} if old is not None else {}
        new_by_id = {i.instance_id: i for i in new.instances} if new is not None else {}
        for instance_id, instance in new_by_id.items():
            previous = old_by_id.get(instance_id)
            if previous is None:
                yield _as(instance, name, ActionType.ADDED)
            elif previous != instance:
                yield _as(instance, name, ActionType.MODIFIED)
        for instance_id, instance in old_by_id.items():
            if instance_id not in new_by_id:
                yield _as(instance, name, ActionType.DELETED)


def _as(instance: InstanceInfo, app: str, action: ActionType) -> InstanceInfo:
    return instance.evolve(app=instance.app or app, action_type=action)


class RemoteRegions:
    """The regions a node follows, by name, and the merge of their copies into answers."""

    def __init__(self, followers: Sequence[RegionFollower]) -> None:
        self._followers = {f.region.name: f for f in followers}
        if len(self._followers) != len(followers):
            raise ValueError("each remote region must have a name of its own")
        self._threads: list[threading.Thread] = []

    @classmethod
    def following(
        cls, regions: Sequence[RemoteRegion], *, fetch_interval_s: float = DEFAULT_FETCH_INTERVAL_S
    ) -> RemoteRegions:
        """Followers of ``regions`` over HTTP, not started.

        :raises ValueError: two regions of one name (checked before any follower is made).
        """
        if len({r.name for r in regions}) != len(regions):
            raise ValueError("each remote region must have a name of its own")
        return cls([RegionFollower(r, fetch_interval_s=fetch_interval_s) for r in regions])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._followers)

    def follower(self, name: str) -> RegionFollower:
        return self._followers[name]

    def start(self) -> None:
        """Start following, each region on a thread: a remote that is down must not hold up
        the node's start by its connect time-outs (Netflix waits for the first fetch)."""
        for follower in self._followers.values():
            thread = threading.Thread(
                target=follower.start, name=f"remote-region-{follower.region.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        for thread in self._threads:
            thread.join(timeout=30)
        for follower in self._followers.values():
            follower.stop()

    def known(self, asked: str | None) -> tuple[str, ...]:
        """The followed regions ``asked`` (a ``regions`` parameter) names, once each, sorted
        (Netflix lower-cases and sorts them, so their order never matters); names this node
        does not follow are ignored, as Netflix ignores them."""
        if not asked:
            return ()
        names = {part.strip().lower() for part in asked.split(",")}
        return tuple(sorted(names & self._followers.keys()))

    def not_ready(self) -> str | None:
        """A followed region never fetched yet, or None once each was fetched at least once.

        Netflix refuses a full or delta read asking for regions (403) until every remote
        region was fetched once (``shouldAllowAccess(true)``); VIP reads are never refused.
        """
        for name, follower in self._followers.items():
            if follower.client.last_successful_fetch_ms is None:
                return name
        return None

    def version(self, names: Sequence[str]) -> tuple[int, ...]:
        return tuple(self._followers[n].generation for n in names)

    def statuses(self) -> list[RegionStatus]:
        return [f.status() for f in self._followers.values()]

    def full(self, local: Applications, names: Sequence[str]) -> Applications:
        """``local`` with the copies of ``names``; the hashcode over all of it."""
        views = [self._followers[n].view for n in names]
        return _merged(local.applications, views, version=local.version)

    def delta(
        self, local_delta: Applications, local_full: Applications, names: Sequence[str]
    ) -> Applications:
        """``local_delta`` with the remote changes of the window; the hashcode is that of
        :meth:`full` (what a client holds once it merged this delta)."""
        changes = [i for n in names for i in self._followers[n].recent_changes()]
        merged = _merged(local_delta.applications, [], version=local_delta.version, extra=changes)
        hashcode = self.full(local_full, names).apps_hashcode
        return Applications(merged.applications, merged.version, hashcode)

    def vip(
        self, local: Applications, vip: str, names: Sequence[str], *, secure: bool
    ) -> Applications:
        found = [
            i
            for n in names
            for i in self._followers[n].view.by_vip(vip, secure=secure, only_up=False)
        ]
        return _merged(local.applications, [], version=local.version, extra=found)


def following(
    regions: Sequence[RemoteRegion], fetch_interval_s: float = DEFAULT_FETCH_INTERVAL_S
) -> RemoteRegions | None:
    """The followers of ``regions`` (not started), or None when there are none.

    :raises InvalidInput: two regions of one name.
    """
    if not regions:
        return None
    try:
        return RemoteRegions.following(regions, fetch_interval_s=fetch_interval_s)
    except ValueError as exc:
        raise InvalidInput(f"--remote-region: {exc}") from None


def _merged(
    local: Iterable[Application],
    views: Sequence[CacheView],
    *,
    version: str,
    extra: Iterable[InstanceInfo] = (),
) -> Applications:
    """Applications by name, instances by id; later ones replace earlier ones of the same id."""
    by_app: dict[str, dict[str, InstanceInfo]] = {}
    for app in local:
        members = by_app.setdefault(app.name.upper(), {})
        for instance in app.instances:
            members[instance.instance_id] = instance
    for view in views:
        for name, app in view.apps.items():
            members = by_app.setdefault(name, {})
            for instance in app.instances:
                members[instance.instance_id] = instance
    for instance in extra:
        by_app.setdefault(instance.app.upper(), {})[instance.instance_id] = instance
    apps = tuple(
        Application(name, tuple(members[i] for i in sorted(members)))
        for name, members in sorted(by_app.items())
        if members
    )
    hashcode = apps_hashcode(i for app in apps for i in app.instances)
    return Applications(apps, version, hashcode)
