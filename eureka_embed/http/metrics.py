"""Prometheus metrics: registry health read at scrape time, and per-route request metrics.

Each app gets its own :class:`~prometheus_client.CollectorRegistry`, never the process-global
one, so two registries served from one process (or one test session) do not clash.

Registry figures are gauges computed when scraped (a collector), not values pushed on every
write: a write costs nothing extra, and a scrape always sees the truth. Request metrics are
recorded by the framework adapter's middleware through :meth:`RequestStats.observe`, labelled
by route *template* (bounded: one per route, not one per instance id). The heartbeat PUT is the
hot path: the labelled children are looked up in a dict kept as plain counts, so a request
costs a tuple, a bisect and three additions.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import threading
from collections.abc import Iterable
from typing import Any, Final

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from eureka_embed.auth.basic import BasicAuth
from eureka_embed.auth.guard import AuthOption
from eureka_embed.http.messages import EndpointRequest, EndpointResponse
from eureka_embed.http.payload_cache import PayloadCache
from eureka_embed.http.server_status import PeersStatus
from eureka_embed.http.watches import Watches
from eureka_embed.model import InstanceStatus
from eureka_embed.registry import Registry
from eureka_embed.replication.receiver import ReplicationReceiver

__all__ = [
    "UNMATCHED_ROUTE",
    "AuthCollector",
    "MetricsEndpoint",
    "RegistryCollector",
    "ReplicationCollector",
    "RequestStats",
    "WatchCollector",
]

log = logging.getLogger("eureka_embed.http")

#: Heartbeats take well under a millisecond; full registry fetches of large registries take tens.
LATENCY_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip

#: The route label of requests no route matched: one label value, not one per junk path.
UNMATCHED_ROUTE: Final = "<unmatched>"

# Clients choose the method token; anything outside HTTP's own is one label value.
_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"}
)


class RegistryCollector(Collector):
    """The registry's health, read at scrape time."""

    def __init__(self, registry: Registry, cache: PayloadCache[Any] | None = None) -> None:
        self._registry = registry
        self._cache = cache

    def collect(self) -> Iterable[Metric]:
        registry = self._registry
        counts = {status.value: 0 for status in InstanceStatus}
        applications = registry.get_applications()
        for instance in applications.instances():
            counts[instance.status.value] += 1
        instances = GaugeMetricFamily(
            "eureka_instances", "Registered instances by status.", labels=["status"]
        )
        for status, count in counts.items():
            instances.add_metric([status], count)
        yield instances
        yield GaugeMetricFamily(
            "eureka_applications",
            "Applications with at least one instance.",
            value=len(applications.applications),
        )
        yield GaugeMetricFamily(
            "eureka_renews_last_minute",
            "Heartbeats received in the last whole minute.",
            value=registry.renews_last_minute(),
        )
        yield GaugeMetricFamily(
            "eureka_renews_threshold",
            "Heartbeats per minute at or below which self-preservation keeps expired leases.",
            value=registry.renewal_threshold(),
        )
        yield GaugeMetricFamily(
            "eureka_expected_clients",
            "Clients the self-preservation threshold is computed from.",
            value=registry.expected_clients,
        )
        yield GaugeMetricFamily(
            "eureka_self_preservation_active",
            "1 while expired leases are kept because too few heartbeats arrive.",
            value=1 if registry.is_self_preservation_active() else 0,
        )
        yield CounterMetricFamily(
            "eureka_evictions", "Leases evicted after expiry.", value=registry.evicted_total
        )
        if self._cache is not None:
            yield CounterMetricFamily(
                "eureka_payload_cache_builds",
                "Encoded payloads built (once per change and representation when the cache works).",
                value=self._cache.builds,
            )


class WatchCollector(Collector):
    """Watching reads held now, and those answered at once because the cap was reached."""

    def __init__(self, watches: Watches) -> None:
        self._watches = watches

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            "eureka_watches_waiting",
            "Watching reads (?index=) held until their view changes.",
            value=self._watches.waiting,
        )
        yield CounterMetricFamily(
            "eureka_watches_refused",
            "Watching reads answered at once because max_watchers were already held.",
            value=self._watches.refused,
        )


#: peers_status keys turned into per-peer series: key -> (metric, help, is a counter).
_PEER_SERIES: Final = {
    "queueLength": ("eureka_peer_queue_length", "Replication tasks waiting for the peer.", False),
    "dropped": (
        "eureka_peer_dropped_tasks",
        "Replication tasks given up unsent (queue full, or too old).",
        True,
    ),
    "failed": (
        "eureka_peer_failed_tasks",
        "Replication tasks the peer refused for good.",
        True,
    ),
    "batchesSent": ("eureka_peer_batches_sent", "Replication batches the peer accepted.", True),
    "itemsSent": ("eureka_peer_items_sent", "Replication items the peer accepted.", True),
    "retries": ("eureka_peer_retries", "Replication tasks sent again after a failure.", True),
}


class ReplicationCollector(Collector):
    """Peer replication, read at scrape time: what peers sent here, and each peer's sender."""

    def __init__(self, receiver: ReplicationReceiver, peers_status: PeersStatus | None) -> None:
        self._receiver = receiver
        self._peers_status = peers_status

    def collect(self) -> Iterable[Metric]:
        yield CounterMetricFamily(
            "eureka_replication_received_batches",
            "Replication batches received from peers.",
            value=self._receiver.batches_received,
        )
        items = CounterMetricFamily(
            "eureka_replication_received_items",
            "Replicated writes received from peers, by action.",
            labels=["action"],
        )
        for action, count in self._receiver.items_received().items():
            items.add_metric([action], count)
        yield items
        yield from self._peer_metrics()

    def _peer_metrics(self) -> Iterable[Metric]:
        if self._peers_status is None:
            return
        try:
            peers = [p for p in self._peers_status() if isinstance(p.get("url"), str)]
        except Exception:
            log.exception("the peers_status callback failed")  # a scrape must still work
            return
        reachable = GaugeMetricFamily(
            "eureka_peer_reachable", "1 when the peer answered the last exchange.", labels=["peer"]
        )
        last_success = GaugeMetricFamily(
            "eureka_peer_last_success_timestamp_seconds",
            "When the peer last accepted a batch.",
            labels=["peer"],
        )
        for peer in peers:
            if isinstance(peer.get("reachable"), bool):
                reachable.add_metric([peer["url"]], 1 if peer["reachable"] else 0)
            success_ms = _number(peer.get("lastSuccessAt"))
            if success_ms is not None:
                last_success.add_metric([peer["url"]], success_ms / 1000)
        yield reachable
        yield last_success
        for key, (name, documentation, is_counter) in _PEER_SERIES.items():
            family: GaugeMetricFamily | CounterMetricFamily = (
                CounterMetricFamily(name, documentation, labels=["peer"])
                if is_counter
                else GaugeMetricFamily(name, documentation, labels=["peer"])
            )
            for peer in peers:
                value = _number(peer.get(key))
                if value is not None:
                    family.add_metric([peer["url"]], value)
            yield family


class AuthCollector(Collector):
    """Failed logins and the brute-force refusals (HTTP Basic only: a host application's own
    check keeps its own figures). Counts only: no user name or address is a label."""

    def __init__(self, auth: AuthOption) -> None:
        self._auth = auth if isinstance(auth, BasicAuth) else None

    def collect(self) -> Iterable[Metric]:
        auth = self._auth
        if auth is None:
            return
        yield CounterMetricFamily(
            "eureka_auth_failures",
            "Requests whose credentials were wrong or unreadable (answered 401).",
            value=auth.stats.failures,
        )
        yield CounterMetricFamily(
            "eureka_auth_throttled",
            "Requests refused (429) because their address failed to log in too often.",
            value=auth.stats.throttled,
        )
        yield GaugeMetricFamily(
            "eureka_auth_throttled_addresses",
            "Client addresses whose credentials are refused now (too many failed logins).",
            value=auth.throttled_addresses(),
        )


def _number(value: object) -> float | None:
    """A number from a caller's mapping; None for anything else (booleans included)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


class _Series:
    """Counts of one (method, route, status): requests per latency bucket, and their sum."""

    __slots__ = ("buckets", "count", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # the last is +Inf
        self.count = 0
        self.total = 0.0


class RequestStats(Collector):
    """Request counts and latency by method, route and status, as a collector.

    The heartbeat PUT is the hot path, so a request costs a bisect and three additions under a
    lock; prometheus_client's own Counter and Histogram (a lock per value, a loop per bucket)
    cost several times that. The figures become Prometheus families only when scraped.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._series: dict[tuple[str, str, int], _Series] = {}
        self._lock = threading.Lock()
        registry.register(self)

    def observe(self, method: str, route: str | None, status: int, elapsed: float) -> None:
        """One answered request; ``route`` is the matched template, None when none matched."""
        key = (method if method in _METHODS else "OTHER", route or UNMATCHED_ROUTE, status)
        bucket = bisect.bisect_left(LATENCY_BUCKETS, elapsed)
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = _Series()
            series.buckets[bucket] += 1
            series.count += 1
            series.total += elapsed

    def collect(self) -> Iterable[Metric]:
        labels = ["method", "route", "status"]
        requests = CounterMetricFamily(
            "eureka_http_requests", "HTTP requests answered.", labels=labels
        )
        latency = HistogramMetricFamily(
            "eureka_http_request_duration_seconds", "Time to answer an HTTP request.", labels=labels
        )
        with self._lock:
            snapshot = [
                (key, list(series.buckets), series.count, series.total)
                for key, series in self._series.items()
            ]
        for (method, route, status), buckets, count, total in snapshot:
            values = [method, route, str(status)]
            requests.add_metric(values, count)
            cumulative = list(itertools.accumulate(buckets))
            bounds = [str(bound) for bound in LATENCY_BUCKETS] + ["+Inf"]
            latency.add_metric(values, list(zip(bounds, cumulative, strict=True)), total)
        yield requests
        yield latency


class MetricsEndpoint:
    """``GET /metrics`` in the Prometheus text format."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def __call__(self, req: EndpointRequest) -> EndpointResponse:
        return EndpointResponse(200, CONTENT_TYPE_LATEST, generate_latest(self._registry))
