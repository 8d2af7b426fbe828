"""The metrics layer: counts and latency per operation and outcome; Prometheus export."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from eureka_embed.client import (
    ClientMetrics,
    EurekaEndpoint,
    HttpRequest,
    HttpResponse,
    MetricsClient,
    MockTransport,
    ReadTimeout,
    RequestKind,
    RestEurekaHttpClient,
)
from eureka_embed.client.metrics import register_prometheus_collector
from eureka_embed.client.transport import Handler
from tests.client.support import answer, apps_answer, instance


def _measured(handler: Handler, metrics: ClientMetrics) -> MetricsClient:
    transport = MockTransport(handler)
    rest = RestEurekaHttpClient(EurekaEndpoint.parse("http://a:8761/eureka/"), transport)
    return MetricsClient(rest, metrics)


def _flaky(request: HttpRequest) -> HttpResponse:
    if request.method == "PUT":
        return answer(404 if request.url.endswith("gone") else 200)
    if request.method == "POST":
        raise ReadTimeout("no answer in time")
    return apps_answer([instance(1)])


def test_counts_per_operation_and_outcome() -> None:
    metrics = ClientMetrics("test", export_to_prometheus=False)
    client = _measured(_flaky, metrics)

    client.send_heartbeat("A", "ok")
    client.send_heartbeat("A", "ok")
    client.send_heartbeat("A", "gone")
    client.get_applications()
    with pytest.raises(ReadTimeout):
        client.register(instance(1))

    snapshot = metrics.snapshot()
    assert snapshot.count(RequestKind.HEARTBEAT) == 3
    assert snapshot.count(RequestKind.HEARTBEAT, 200) == 2
    assert snapshot.count(RequestKind.HEARTBEAT, 404) == 1
    assert snapshot.count(RequestKind.GET_APPLICATIONS, "200") == 1
    assert snapshot.count(RequestKind.REGISTER, "ReadTimeout") == 1
    assert snapshot.count(RequestKind.CANCEL) == 0
    assert snapshot.total == 5


def test_latency_is_recorded_per_operation() -> None:
    metrics = ClientMetrics("test", export_to_prometheus=False)
    client = _measured(_flaky, metrics)

    client.get_applications()
    client.get_applications()

    stats = metrics.snapshot().operations[RequestKind.GET_APPLICATIONS]
    assert stats.count == 2
    assert 0 < stats.max_seconds <= stats.total_seconds
    assert stats.mean_seconds == pytest.approx(stats.total_seconds / 2)


def test_a_snapshot_does_not_change_afterwards() -> None:
    metrics = ClientMetrics("test", export_to_prometheus=False)
    client = _measured(_flaky, metrics)
    client.get_applications()

    before = metrics.snapshot()
    client.get_applications()

    assert before.count(RequestKind.GET_APPLICATIONS) == 1
    assert metrics.snapshot().count(RequestKind.GET_APPLICATIONS) == 2


def test_exported_to_prometheus() -> None:
    registry = CollectorRegistry()
    register_prometheus_collector(registry)
    metrics = ClientMetrics("prom-test")
    client = _measured(_flaky, metrics)

    client.send_heartbeat("A", "ok")
    client.send_heartbeat("A", "gone")

    labels = {"client": "prom-test", "operation": "heartbeat"}
    assert registry.get_sample_value("eureka_client_requests_total", {**labels, "outcome": "200"})
    assert registry.get_sample_value("eureka_client_request_seconds_count", labels) == 2
    assert b"eureka_client_request_seconds_sum" in generate_latest(registry)


def test_the_default_prometheus_registry_has_the_client_figures() -> None:
    from prometheus_client import REGISTRY

    metrics = ClientMetrics("default-registry-test")
    _measured(_flaky, metrics).get_applications()

    value = REGISTRY.get_sample_value(
        "eureka_client_requests_total",
        {"client": "default-registry-test", "operation": "get_applications", "outcome": "200"},
    )
    assert value == 1
