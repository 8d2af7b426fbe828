"""The metrics layer: how many requests of each kind, how they ended, and how long they took.

It sits right above the REST client, so every real HTTP exchange counts, redirects and retries
included, labelled by the answer's status or by the error's class name. Figures are readable
as a :class:`MetricsSnapshot`, and exported to Prometheus when ``prometheus_client`` is
installed (the ``server`` extra): one collector, registered once in its default registry,
reads every live :class:`ClientMetrics` at scrape time, so a request costs no Prometheus work.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from eureka_embed.client.contract import ClientLayer, EurekaHttpClient, Operation
from eureka_embed.client.response import EurekaResponse, RequestKind
from eureka_embed.errors import TransportError

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

__all__ = [
    "ClientMetrics",
    "MetricsClient",
    "MetricsSnapshot",
    "OperationStats",
    "register_prometheus_collector",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OperationStats:
    """One operation's figures. ``outcomes`` maps ``"200"``, ``"404"``, ``"ReadTimeout"``, ...
    to how often each happened."""

    count: int
    total_seconds: float
    max_seconds: float
    outcomes: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def mean_seconds(self) -> float:
        return self.total_seconds / self.count if self.count else 0.0


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """Figures of one client stack at one moment, per operation."""

    name: str
    operations: Mapping[RequestKind, OperationStats]

    def count(self, kind: RequestKind, outcome: str | int | None = None) -> int:
        """Requests of ``kind``, all of them or those that ended with ``outcome``."""
        stats = self.operations.get(kind)
        if stats is None:
            return 0
        if outcome is None:
            return stats.count
        return stats.outcomes.get(str(outcome), 0)

    @property
    def total(self) -> int:
        return sum(stats.count for stats in self.operations.values())


class _Tally:
    __slots__ = ("count", "max_seconds", "outcomes", "total_seconds")

    def __init__(self) -> None:
        self.count = 0
        self.total_seconds = 0.0
        self.max_seconds = 0.0
        self.outcomes: dict[str, int] = {}


class ClientMetrics:
    """Counters shared by every per-server client of one stack (``name``: "registration", ...).

    With ``prometheus_client`` installed, the figures appear as
    ``eureka_client_requests_total{client, operation, outcome}`` and
    ``eureka_client_request_seconds{client, operation}`` (a summary) in its default registry.
    """

    def __init__(self, name: str = "eureka", *, export_to_prometheus: bool = True) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._tallies: dict[RequestKind, _Tally] = {}
        if export_to_prometheus:
            _LIVE.add(self)
            _ensure_default_collector()

    def record(self, kind: RequestKind, outcome: str, seconds: float) -> None:
        with self._lock:
            tally = self._tallies.get(kind)
            if tally is None:
                tally = self._tallies[kind] = _Tally()
            tally.count += 1
            tally.total_seconds += seconds
            tally.max_seconds = max(tally.max_seconds, seconds)
            tally.outcomes[outcome] = tally.outcomes.get(outcome, 0) + 1

    def snapshot(self) -> MetricsSnapshot:
        with self._lock:
            operations = {
                kind: OperationStats(
                    tally.count,
                    tally.total_seconds,
                    tally.max_seconds,
                    MappingProxyType(dict(tally.outcomes)),
                )
                for kind, tally in self._tallies.items()
            }
        return MetricsSnapshot(self.name, MappingProxyType(operations))


class MetricsClient(ClientLayer):
    """Measures every operation run on ``inner`` into ``metrics``."""

    def __init__(self, inner: EurekaHttpClient, metrics: ClientMetrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def _execute(self, kind: RequestKind, operation: Operation[T]) -> EurekaResponse[T]:
        started = time.perf_counter()
        try:
            response = operation(self.inner)
        except TransportError as exc:
            self.metrics.record(kind, type(exc).__name__, time.perf_counter() - started)
            raise
        self.metrics.record(kind, str(response.status), time.perf_counter() - started)
        return response

    def shutdown(self) -> None:
        self.inner.shutdown()


# ---------------------------------------------------------------------- Prometheus export

_LIVE: weakref.WeakSet[ClientMetrics] = weakref.WeakSet()


class _DefaultExport:
    """Whether the collector is in prometheus_client's default registry (at most once)."""

    lock = threading.Lock()
    done = False


def _ensure_default_collector() -> None:
    if _DefaultExport.done:
        return
    with _DefaultExport.lock:
        if _DefaultExport.done:
            return
        _DefaultExport.done = True
        try:
            from prometheus_client import REGISTRY
        except ImportError:  # an optional dependency: no Prometheus, no export
            return
        register_prometheus_collector(REGISTRY)


def register_prometheus_collector(registry: CollectorRegistry) -> None:
    """Export every live :class:`ClientMetrics` (that allows it) through ``registry``.

    Done for ``prometheus_client``'s default registry automatically; call it for another one.
    """
    registry.register(_collector())


def _collector() -> Any:
    from prometheus_client.core import CounterMetricFamily, Metric, SummaryMetricFamily
    from prometheus_client.registry import Collector

    class _ClientCollector(Collector):
        def collect(self) -> Iterator[Metric]:
            requests = CounterMetricFamily(
                "eureka_client_requests",
                "Requests sent to Eureka servers, by outcome (HTTP status or error)",
                labels=("client", "operation", "outcome"),
            )
            latency = SummaryMetricFamily(
                "eureka_client_request_seconds",
                "Time from sending a request to a Eureka server to its answer or failure",
                labels=("client", "operation"),
            )
            counts, sums = _merged(list(_LIVE))
            for (client, kind, outcome), count in sorted(counts.items()):
                requests.add_metric((client, kind, outcome), count)
            for (client, kind), (count, total) in sorted(sums.items()):
                latency.add_metric((client, kind), count_value=count, sum_value=total)
            yield requests
            yield latency

    return _ClientCollector()


def _merged(
    live: Iterable[ClientMetrics],
) -> tuple[dict[tuple[str, str, str], int], dict[tuple[str, str], tuple[int, float]]]:
    """Figures summed over stacks of the same name (e.g. several DiscoveryClients)."""
    counts: dict[tuple[str, str, str], int] = {}
    sums: dict[tuple[str, str], tuple[int, float]] = {}
    for metrics in live:
        for kind, stats in metrics.snapshot().operations.items():
            key = (metrics.name, kind.value)
            count, total = sums.get(key, (0, 0.0))
            sums[key] = (count + stats.count, total + stats.total_seconds)
            for outcome, n in stats.outcomes.items():
                okey = (metrics.name, kind.value, outcome)
                counts[okey] = counts.get(okey, 0) + n
    return counts, sums
