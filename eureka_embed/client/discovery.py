"""DiscoveryClient: register this service, keep its lease, and keep a local registry copy.

The life cycle Eureka's own client has (SPEC section 6):

* start: register (at once, or after ``initial_delay_s``) and fetch the full registry;
* a heartbeat every ``lease_renewal_interval_s``; a 404 means the server lost (or never had) the
  instance, so the client registers again;
* a registry refresh every ``registry_fetch_interval_s``: a delta merged into the cache, whose
  hashcode must then equal the server's, else (or when the delta fails) a full fetch;
* *ours*: a watch instead of that refresh when the server's answers carry ``X-Eureka-Index``
  (eureka-embed servers): the delta is asked for with ``?index=N&wait=``, the server holds it
  until the registry changes, and the client merges it (same hashcode check) and tells its
  listeners at once, then watches again. No index in an answer (a plain Eureka server, another
  server after a failover): the client polls, and watches again as soon as an answer has one.
  A failed watch falls back to polling with the refresh's back-off;
* a periodic instance check (the health check, pending status changes) that re-registers when
  the instance changed; status changes also trigger it at once, within a rate limit;
* shutdown: status DOWN, cancel, every thread stopped.

Heartbeat and refresh are :class:`~eureka_embed.client.supervision.SupervisedTask` runs: a
time-out each, back-off up to 10 x the interval while failing. Lookups read the local cache
only and never wait on the network.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from eureka_embed.client.abort import AbortSignal
from eureka_embed.client.cache import CacheView, RegistryCache
from eureka_embed.client.config import DiscoveryConfig
from eureka_embed.client.contract import EurekaHttpClient
from eureka_embed.client.factory import EurekaTransport, TransportFactory, eureka_transport
from eureka_embed.client.inprocess import InProcessEurekaClient
from eureka_embed.client.rate_limit import TokenBucket
from eureka_embed.client.response import EurekaResponse
from eureka_embed.client.scheduling import Scheduler, ThreadScheduler
from eureka_embed.client.supervision import SupervisedTask
from eureka_embed.clock import Clock, system_clock
from eureka_embed.errors import TransportError
from eureka_embed.model import Applications, InstanceInfo, InstanceStatus
from eureka_embed.registry import Registry

__all__ = ["CacheRefreshed", "DiscoveryClient", "DiscoveryStats", "HealthCheck"]

log = logging.getLogger(__name__)

#: Watches answered at once with an index lower than the one sent (with none held between)
#: before the next watch waits a refresh interval.
_BACKWARD_ANSWERS_BEFORE_PACING = 2

HealthCheck = Callable[[], InstanceStatus | bool]
"""Says how the service is: a status, or True for UP and False for DOWN."""


@dataclass(frozen=True, slots=True)
class CacheRefreshed:
    """Told to listeners after a refresh left the local registry copy different from the
    copy they were last told of: each change once, however many fetches it took."""

    view: CacheView
    #: True when the refresh ended with a fetch of the whole registry (perhaps after a delta
    #: whose hashcode disagreed), False when a merged delta alone made the change.
    full_fetch: bool


@dataclass(frozen=True, slots=True)
class DiscoveryStats:
    """How the client's conversations with the servers have gone so far."""

    registrations: int
    reregistrations: int
    heartbeats: int
    heartbeat_failures: int
    full_fetches: int
    #: Deltas merged, polled or brought by a watch.
    delta_fetches: int
    #: Watches the server answered with a change (each also counts as a delta fetch).
    watch_wakeups: int
    #: Watches held to the end of their wait with nothing new.
    watch_timeouts: int
    #: Watches answered at once with nothing new (a server at its cap of watchers), or with
    #: indexes going backwards again and again (servers behind one address that count
    #: apart): the client then waits a refresh interval before the next.
    watch_refusals: int
    reconcile_mismatches: int
    fetch_failures: int
    status_pushes_rate_limited: int
    #: Current wait between heartbeats / refreshes: the interval, or more while backing off.
    heartbeat_delay_s: float
    fetch_delay_s: float


CacheListener = Callable[[CacheRefreshed], None]


class DiscoveryClient:
    """A service's Eureka client. Use as a context manager, or :meth:`start` and :meth:`shutdown`;
    in an asyncio application, ``async with`` (or :meth:`astart` and :meth:`ashutdown`).

    By default it talks HTTP to ``config.service_urls`` through two layered client stacks
    (registration and query traffic apart). Pass ``registration_client`` and ``query_client``
    to use others (:meth:`in_process` uses a registry directly). ``scheduler`` and ``clock``
    are for tests: a :class:`~eureka_embed.client.scheduling.ManualScheduler` on a manual clock
    drives every periodic task deterministically.
    """

    def __init__(
        self,
        config: DiscoveryConfig,
        *,
        registration_client: EurekaHttpClient | None = None,
        query_client: EurekaHttpClient | None = None,
        health_check: HealthCheck | None = None,
        scheduler: Scheduler | None = None,
        clock: Clock | None = None,
        transport_factory: TransportFactory | None = None,
    ) -> None:
        self.config = config
        self._clock = clock if clock is not None else system_clock
        self._health_check = health_check
        #: The HTTP stacks this client built (and closes), when not given clients to use.
        self.transport: EurekaTransport | None = None
        now = self._clock.now_ms()
        self._instance = config.build_instance(now)
        if registration_client is None or query_client is None:
            self.transport = eureka_transport(
                config.service_urls,
                zone=config.zone,
                config=config.transport,
                transport_factory=transport_factory,
                clock=self._clock,
                # Eureka's client tells servers who it is by its IP address.
                identity_id=self._instance.ip_addr,
            )
            registration_client = registration_client or self.transport.registration
            query_client = query_client or self.transport.query
        self._registration: EurekaHttpClient = registration_client
        self._query: EurekaHttpClient = query_client
        self._owns_scheduler = scheduler is None
        # A held watch keeps one worker busy; the third keeps heartbeat and instance check
        # from queueing behind each other.
        self._scheduler = scheduler if scheduler is not None else ThreadScheduler(workers=3)

        self._lock = threading.Lock()
        # The lastDirtyTimestamp of a change not yet accepted by a server; None when in sync.
        self._unsent_since: int | None = now
        # Counts local changes, so a registration knows whether one came while it was sent:
        # timestamps cannot tell, as two changes may fall in one millisecond.
        self._changes = 0
        self._status_bucket = TokenBucket(
            config.status_update_burst,
            config.status_update_burst / config.instance_info_replication_interval_s,
            self._clock,
        )
        self._cache = RegistryCache()
        self._fetch_lock = threading.Lock()
        # The copy listeners were last told of; whether the copy was last set by a full fetch.
        self._told: CacheView = self._cache.view
        self._last_change_full = True
        self._fetched_once = False
        # When a refresh last worked (epoch ms, None: never), and whether the last one failed.
        self._last_success_ms: int | None = None
        self._fetch_failing = False
        # The index of the last registry answer when its server offers watches: the next
        # refresh watches from it. None (a plain Eureka server, an in-process registry, a
        # failed fetch): the next refresh polls.
        self._watch_index: int | None = None
        # False since the server refused a delta (403: deltas disabled): no watch until a
        # polled delta is answered again, as a held watch could only end refused.
        self._deltas_answered = True
        # Watches answered at once with an index below the one sent, since one was held.
        self._backward_answers = 0
        # Given on shutdown: ends a watch (or fetch) in flight instead of waiting for it.
        self._abort = AbortSignal()
        self._listeners: list[CacheListener] = []
        self._round_robin: dict[str, itertools.count[int]] = {}
        self._started = False
        self._closed = False
        self._counts_lock = threading.Lock()
        self._counts = dict.fromkeys(
            (
                "registrations",
                "reregistrations",
                "heartbeats",
                "heartbeat_failures",
                "full_fetches",
                "delta_fetches",
                "watch_wakeups",
                "watch_timeouts",
                "watch_refusals",
                "reconcile_mismatches",
                "fetch_failures",
                "status_pushes_rate_limited",
            ),
            0,
        )
        self._heartbeat_task = SupervisedTask(
            "heartbeat",
            self._renew,
            interval_s=config.lease_renewal_interval_s,
            backoff_bound=config.heartbeat_backoff_bound,
            scheduler=self._scheduler,
        )
        self._refresh_task = SupervisedTask(
            "refresh",
            self._refresh_round,
            interval_s=config.registry_fetch_interval_s,
            backoff_bound=config.fetch_backoff_bound,
            scheduler=self._scheduler,
            timeout_s=_refresh_timeout_s(config),
        )
        # Not backed off: it is cheap when nothing changed, and must push changes promptly.
        self._instance_task = SupervisedTask(
            "instance-check",
            self._push_instance_changes,
            interval_s=config.instance_info_replication_interval_s,
            backoff_bound=1,
            scheduler=self._scheduler,
        )

    @classmethod
    def in_process(
        cls,
        config: DiscoveryConfig,
        registry: Registry,
        *,
        health_check: HealthCheck | None = None,
        scheduler: Scheduler | None = None,
        clock: Clock | None = None,
    ) -> DiscoveryClient:
        """A client of ``registry`` in this process: no HTTP, same behaviour."""
        client = InProcessEurekaClient(registry)
        return cls(
            config,
            registration_client=client,
            query_client=client,
            health_check=health_check,
            scheduler=scheduler,
            clock=clock if clock is not None else registry.clock,
        )

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Register and fetch the registry (failures are logged and retried), then schedule
        the heartbeat, refresh and instance-check tasks."""
        if self._started:
            raise RuntimeError("DiscoveryClient already started")
        if self._closed:
            raise RuntimeError("DiscoveryClient was shut down")
        self._started = True
        config = self.config
        if config.register_with_eureka and config.initial_delay_s == 0:
            self._register()
        if config.fetch_registry:
            self.refresh()
            self._refresh_task.start(0 if self._watching() else None)
        if config.register_with_eureka:
            self._heartbeat_task.start()
            self._instance_task.start(config.initial_delay_s or None)

    def shutdown(self) -> None:
        """Stop every task and thread, mark the instance DOWN and cancel it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        # A watch in flight would hold the scheduler's shutdown for up to its wait.
        self._abort.abort()
        for task in (self._heartbeat_task, self._refresh_task, self._instance_task):
            task.stop()
        if self._owns_scheduler:
            # Waits for a run in progress, so no heartbeat can re-register after the cancel.
            self._scheduler.shutdown()
        with self._lock:
            self._instance = self._dirtied(self._instance.evolve(status=InstanceStatus.DOWN))
        if self._started and self.config.register_with_eureka:
            instance = self._instance
            try:
                answer = self._registration.cancel(instance.app, instance.instance_id)
                log.info("cancelled %s: HTTP %d", instance.instance_id, answer.status)
            except TransportError as exc:
                log.warning("could not cancel %s: %s", instance.instance_id, exc.reason)
        if self.transport is not None:
            self.transport.shutdown()

    def __enter__(self) -> DiscoveryClient:
        if not self._started:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    # An asyncio application (FastAPI's lifespan) must not wait on the network on its event
    # loop: registration, the first fetch, the scheduler's join and the cancel run in a
    # worker thread, and the loop goes on serving meanwhile.

    async def astart(self) -> None:
        """:meth:`start` off the event loop."""
        await asyncio.to_thread(self.start)

    async def ashutdown(self) -> None:
        """:meth:`shutdown` off the event loop."""
        await asyncio.to_thread(self.shutdown)

    async def __aenter__(self) -> DiscoveryClient:
        if not self._started:
            await self.astart()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.ashutdown()

    # ------------------------------------------------------------------ this instance

    @property
    def instance(self) -> InstanceInfo:
        """This service's instance, as last changed locally."""
        return self._instance

    def set_status(self, status: InstanceStatus) -> None:
        """Change this instance's status; pushed at once unless rate-limited (then at the
        next instance check)."""
        with self._lock:
            if self._instance.status is status:
                return
            self._instance = self._dirtied(self._instance.evolve(status=status))
        self._push_soon()

    def _dirtied(self, instance: InstanceInfo) -> InstanceInfo:
        """``instance`` marked changed now; must hold ``_lock``."""
        now = max(self._clock.now_ms(), self._instance.last_dirty_timestamp)
        self._unsent_since = now
        self._changes += 1
        return instance.evolve(last_dirty_timestamp=now, last_updated_timestamp=now)

    def _push_soon(self) -> None:
        if not self._started or self._closed or not self.config.register_with_eureka:
            return
        if self._status_bucket.try_acquire():
            self._instance_task.trigger()
        else:
            self._count("status_pushes_rate_limited")
            log.info("status push rate-limited; the next instance check sends it")

    def _register(self) -> bool:
        with self._lock:
            instance = self._instance
            changes = self._changes
        try:
            answer = self._registration.register(instance)
        except TransportError as exc:
            log.warning("registration of %s failed: %s", instance.instance_id, exc.reason)
            return False
        if not answer.ok:
            log.warning(
                "registration of %s answered %d %s",
                instance.instance_id,
                answer.status,
                answer.text,
            )
            return False
        with self._lock:
            # A change made while this registration was in flight is still unsent.
            if self._changes == changes:
                self._unsent_since = None
        self._count("registrations")
        log.info("registered %s as %s", instance.instance_id, instance.status.value)
        return True

    def _renew(self) -> bool:
        instance = self._instance
        try:
            answer = self._registration.send_heartbeat(
                instance.app, instance.instance_id, instance=instance
            )
        except TransportError as exc:
            self._count("heartbeat_failures")
            log.warning("heartbeat of %s failed: %s", instance.instance_id, exc.reason)
            return False
        if answer.status == 404:
            # The server lost the lease (expired, cancelled, restarted) or holds an older copy.
            self._count("reregistrations")
            log.info("heartbeat of %s: 404; registering again", instance.instance_id)
            with self._lock:
                self._instance = self._dirtied(self._instance)
            return self._register()
        if answer.status != 200:
            self._count("heartbeat_failures")
            log.warning("heartbeat of %s answered %d", instance.instance_id, answer.status)
            return False
        self._count("heartbeats")
        return True

    def _push_instance_changes(self) -> bool:
        self._apply_health_check()
        if self._unsent_since is None:
            return True
        return self._register()

    def _apply_health_check(self) -> None:
        check = self._health_check
        if check is None:
            return
        # An operator's OUT_OF_SERVICE is not the health check's to undo.
        if self._instance.status is InstanceStatus.OUT_OF_SERVICE:
            return
        try:
            verdict = check()
        except Exception:
            log.exception("health check failed; reporting DOWN")
            verdict = InstanceStatus.DOWN
        if isinstance(verdict, bool):
            verdict = InstanceStatus.UP if verdict else InstanceStatus.DOWN
        with self._lock:
            if self._instance.status is not verdict:
                log.info("health check: %s -> %s", self._instance.status.value, verdict.value)
                self._instance = self._dirtied(self._instance.evolve(status=verdict))

    # ------------------------------------------------------------------ registry cache

    def refresh(self) -> bool:
        """Bring the local registry copy up to date now (a poll, never a watch); whether that
        worked."""
        with self._fetch_lock:
            try:
                if self.config.disable_delta or not self._fetched_once or not self._cache.view.apps:
                    done = self._full_fetch()
                else:
                    done = self._delta_fetch()
            except TransportError as exc:
                self._watch_index = None
                done = False
                if not self._closed:  # else ended by shutdown (Aborted): nothing failed
                    self._count("fetch_failures")
                    log.warning("registry fetch failed: %s", exc.reason)
            self._record_fetch(done)
            # Even a failed full fetch after a merged delta leaves a changed copy to tell of.
            self._tell_listeners()
            return done

    def _record_fetch(self, done: bool) -> None:
        self._fetch_failing = not done
        if done:
            self._last_success_ms = self._clock.now_ms()

    @property
    def last_successful_fetch_ms(self) -> int | None:
        """When a registry fetch (poll or watch) last worked, epoch ms; None before the first."""
        return self._last_success_ms

    @property
    def fetch_failing(self) -> bool:
        """Whether the last registry fetch failed (the copy is then the last one fetched)."""
        return self._fetch_failing

    def _full_fetch(self) -> bool:
        answer = self._query.get_applications(self.config.fetch_regions)
        if answer.status != 200 or answer.entity is None:
            self._count("fetch_failures")
            log.warning("full registry fetch answered %d", answer.status)
            self._watch_index = None
            return False
        self._count("full_fetches")
        self._cache.replace(answer.entity)
        self._watch_index = answer.index
        # Whether or not it changed the copy, the copy is now the whole registry as fetched.
        self._last_change_full = True
        self._fetched_once = True
        return True

    def _delta_fetch(self) -> bool:
        try:
            answer = self._query.get_delta(self.config.fetch_regions)
        except TransportError as exc:
            log.info("delta fetch failed (%s); fetching the full registry", exc.reason)
            return self._full_fetch()
        return self._merge_delta(answer)

    def _merge_delta(self, answer: EurekaResponse[Applications]) -> bool:
        """Merge a delta answer (polled or watched), with a full fetch when it is refused or
        the merge disagrees with the server's hashcode. Called with ``_fetch_lock`` held."""
        delta = answer.entity
        self._deltas_answered = answer.status == 200 and delta is not None
        if answer.status != 200 or delta is None:
            log.info("delta fetch answered %d; fetching the full registry", answer.status)
            return self._full_fetch()
        self._count("delta_fetches")
        self._watch_index = answer.index
        outcome = self._cache.apply_delta(delta)
        if outcome.changed:
            self._last_change_full = False
        if not outcome.consistent:
            self._count("reconcile_mismatches")
            log.info(
                "merged registry hashcode %r differs from the server's %r; fetching it all",
                outcome.local_hashcode,
                outcome.server_hashcode,
            )
            return self._full_fetch()
        return True

    # ------------------------------------------------------------------ watches

    def _watching(self) -> bool:
        """Whether the next refresh is a watch: allowed, and the last answer had an index."""
        config = self.config
        return (
            config.watch
            and not config.disable_delta
            and self._fetched_once
            and self._deltas_answered
            and self._watch_index is not None
        )

    def _refresh_round(self) -> bool:
        """One run of the refresh task: a watch when the server offers them, else a poll.

        After a watch that brought or awaited a change, or a poll that found the server
        offers watches, the task runs again at once (the watch is what waits); otherwise it
        waits its interval, or its back-off after a failure.
        """
        index = self._watch_index
        with self._abort.armed():
            if index is not None and self._watching():
                done, again = self._watch(index)
                self._record_fetch(done)
            else:
                done = self.refresh()
                again = done and self._watching()
        if again and not self._closed:
            self._refresh_task.trigger()
        return done

    def _watch(self, index: int) -> tuple[bool, bool]:
        """Hold a watch on the delta from ``index``; (it worked, watch again at once).

        The request goes out without ``_fetch_lock``, so a :meth:`refresh` called meanwhile
        does not wait for the watch; its answer is merged under the lock.
        """
        wait_s = self.config.watch_wait_s
        started_ms = self._clock.now_ms()
        try:
            answer = self._query.get_delta(self.config.fetch_regions, index=index, wait_s=wait_s)
        except TransportError as exc:
            if self._closed:  # ended by shutdown (Aborted): nothing failed
                return True, False
            self._count("fetch_failures")
            log.warning("registry watch failed (%s); polling until a fetch succeeds", exc.reason)
            self._watch_index = None
            return False, False
        # Answered in less than half its wait: the server did not hold it.
        at_once = self._clock.now_ms() - started_ms < wait_s * 500
        with self._fetch_lock:
            if answer.status == 200 and answer.index == index:
                if at_once:
                    # Unchanged, and not held: the server is at its cap of watchers.
                    # Watching again at once would spin on it.
                    self._count("watch_refusals")
                    log.debug("watch answered at once with index %d; polling pace", index)
                    return True, False
                self._count("watch_timeouts")
                self._backward_answers = 0
                return True, True
            if answer.status == 200 and answer.index is not None:
                self._count("watch_wakeups")
            done = self._merge_delta(answer)
            self._tell_listeners()
            if not at_once:
                self._backward_answers = 0
            elif answer.index is not None and answer.index < index:
                self._backward_answers += 1
        # An index that goes backwards happens once after a restart or a failover. Again and
        # again between held watches, it is servers behind one address that count apart
        # (peers behind a load balancer), each answering the other's index at once: watching
        # again at once would bounce between them without end.
        if self._backward_answers >= _BACKWARD_ANSWERS_BEFORE_PACING:
            self._backward_answers = 0
            self._count("watch_refusals")
            log.info("watch indexes keep going backwards (servers counting apart?); polling pace")
            return done, False
        return done, done and self._watching()

    def add_listener(self, listener: CacheListener) -> None:
        """Call ``listener`` (on the refresh thread) after each refresh that changed the copy."""
        self._listeners = [*self._listeners, listener]

    def remove_listener(self, listener: CacheListener) -> None:
        self._listeners = [x for x in self._listeners if x is not listener]

    def _tell_listeners(self) -> None:
        """Tell listeners of the copy if it differs from the one they were last told of.

        Compared with what they were told, not with the copy before this refresh: a delta
        merge followed by a full fetch (after a hashcode mismatch) that finds the same
        registry is still a change to tell once, and a full fetch that undoes the merge is
        none. Called with ``_fetch_lock`` held.
        """
        view = self._cache.view
        if view.same_instances(self._told):
            return
        self._told = view
        event = CacheRefreshed(view, self._last_change_full)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("cache listener %r failed", listener)

    # ------------------------------------------------------------------ lookups (cache only)

    @property
    def cache_view(self) -> CacheView:
        """The local registry copy as it is now: immutable, read without a lock."""
        return self._cache.view

    def applications(self) -> Applications:
        """The whole local registry copy, every status."""
        return self._cache.view.applications()

    def get_instances(self, app: str, *, include_all: bool = False) -> tuple[InstanceInfo, ...]:
        """Instances of ``app``: UP ones only unless ``include_all`` (or the config says so)."""
        only_up = self.config.filter_only_up_instances and not include_all
        return self._cache.view.instances(app, only_up=only_up)

    def get_instances_by_vip(
        self, vip: str, *, secure: bool = False, include_all: bool = False
    ) -> tuple[InstanceInfo, ...]:
        """Instances whose (secure) VIP address names ``vip``; UP ones only by default."""
        only_up = self.config.filter_only_up_instances and not include_all
        return self._cache.view.by_vip(vip, secure=secure, only_up=only_up)

    def next_server(self, app: str) -> InstanceInfo | None:
        """The next UP instance of ``app``, round robin; None when there is none."""
        candidates = self._cache.view.instances(app, only_up=True)
        if not candidates:
            return None
        key = app.upper()
        counter = self._round_robin.get(key)
        if counter is None:
            counter = self._round_robin.setdefault(key, itertools.count())
        return candidates[next(counter) % len(candidates)]

    def _count(self, name: str) -> None:
        with self._counts_lock:
            self._counts[name] += 1

    def stats(self) -> DiscoveryStats:
        with self._counts_lock:
            counts = dict(self._counts)
        return DiscoveryStats(
            **counts,
            heartbeat_delay_s=self._heartbeat_task.delay_s,
            fetch_delay_s=self._refresh_task.delay_s,
        )


def _refresh_timeout_s(config: DiscoveryConfig) -> float:
    """How long one refresh may run: a poll's interval, or, watching, the longest a watch may
    legitimately take (its wait, then the connect and read time-outs)."""
    if not config.watch:
        return config.registry_fetch_interval_s
    transport = config.transport
    held = config.watch_wait_s + transport.connect_timeout_s + transport.read_timeout_s
    return max(config.registry_fetch_interval_s, math.ceil(held))
