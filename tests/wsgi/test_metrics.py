"""``GET /metrics``: registry health at scrape time, request counts and latencies per route."""

from __future__ import annotations

import falcon.testing
from prometheus_client.parser import text_string_to_metric_families

from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.registry import Registry
from eureka_embed.wsgi import create_app as create_wsgi_app
from tests.wsgi.adapters import AppFactory
from tests.wsgi.helpers import JSON, call_wsgi, instance_id, register

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: falcon.testing.TestClient) -> Samples:
    result = client.simulate_get("/metrics")
    assert result.status_code == 200
    assert result.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(result.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name, frozenset(labels.items())]


def test_instances_by_status_are_counted_at_scrape_time(client: falcon.testing.TestClient) -> None:
    register(client, 1)
    register(client, 2)
    register(client, 3, status="STARTING")
    client.simulate_put(f"/eureka/apps/ORDERS/{instance_id(2)}/status", params={"value": "DOWN"})

    samples = scrape(client)

    assert value(samples, "eureka_instances", status="UP") == 1
    assert value(samples, "eureka_instances", status="DOWN") == 1
    assert value(samples, "eureka_instances", status="STARTING") == 1
    assert value(samples, "eureka_instances", status="OUT_OF_SERVICE") == 0
    assert value(samples, "eureka_applications") == 1


def test_renews_evictions_and_threshold(
    client: falcon.testing.TestClient, registry: Registry, clock: ManualClock
) -> None:
    register(client, 1)
    register(client, 2)
    for _ in range(3):
        client.simulate_put(f"/eureka/apps/ORDERS/{instance_id(2)}")
    clock.advance(seconds=60)
    assert value(scrape(client), "eureka_renews_last_minute") == 3

    clock.advance(seconds=100)
    registry.evict()  # evicts at most 15 % of the registry per run: one of two
    registry.evict()
    samples = scrape(client)

    assert value(samples, "eureka_evictions_total") == 2
    assert value(samples, "eureka_renews_threshold") == registry.renewal_threshold()
    assert value(samples, "eureka_expected_clients") == registry.expected_clients


def test_self_preservation_flag(create_app: AppFactory) -> None:
    registry = Registry(config=RegistryConfig(self_preservation=True), clock=ManualClock())
    client = falcon.testing.TestClient(create_app(registry))
    register(client)  # no renewals yet: below the threshold

    assert value(scrape(client), "eureka_self_preservation_active") == 1

    off = Registry(config=RegistryConfig(self_preservation=False), clock=ManualClock())
    assert (
        value(scrape(falcon.testing.TestClient(create_app(off))), "eureka_self_preservation_active")
        == 0
    )


def test_requests_are_counted_by_route_template_method_and_status(
    client: falcon.testing.TestClient,
) -> None:
    register(client, 1)
    register(client, 2)
    for n in (1, 2, 1):
        client.simulate_put(f"/eureka/apps/ORDERS/{instance_id(n)}")
    client.simulate_put("/eureka/v2/apps/ORDERS/unknown")
    client.simulate_get("/eureka/apps", headers=JSON)
    client.simulate_get("/no/such/path/1")
    client.simulate_get("/no/such/path/2")

    samples = scrape(client)

    heartbeat = "/eureka/apps/{app}/{instance_id}"
    requests = "eureka_http_requests_total"
    assert value(samples, requests, method="PUT", route=heartbeat, status="200") == 3
    assert (
        value(samples, requests, method="PUT", route="/eureka/v2" + heartbeat[7:], status="404")
        == 1
    )
    assert value(samples, requests, method="POST", route="/eureka/apps/{app}", status="204") == 2
    assert value(samples, requests, method="GET", route="/eureka/apps", status="200") == 1
    # Paths no route matched share one label value: junk cannot explode the cardinality.
    assert value(samples, requests, method="GET", route="<unmatched>", status="404") == 2
    latency = "eureka_http_request_duration_seconds_count"
    assert value(samples, latency, method="PUT", route=heartbeat, status="200") == 3
    assert (
        value(
            samples,
            "eureka_http_request_duration_seconds_sum",
            method="PUT",
            route=heartbeat,
            status="200",
        )
        >= 0
    )


def test_unknown_methods_share_one_label(registry: Registry) -> None:
    app = create_wsgi_app(registry)
    for method in ("BREW", "WHEN"):
        status, _ = call_wsgi(app, falcon.testing.create_environ("/eureka/apps", method=method))
        assert status.startswith("400")

    samples = scrape(falcon.testing.TestClient(app))

    methods = {
        dict(labels)["method"]: count
        for (name, labels), count in samples.items()
        if name == "eureka_http_requests_total"
    }
    assert methods == {"OTHER": 2}


def test_two_apps_in_one_process_keep_their_own_metrics(create_app: AppFactory) -> None:
    first = falcon.testing.TestClient(create_app(Registry()))
    second = falcon.testing.TestClient(create_app(Registry()))
    register(first, 1)
    register(first, 2)

    assert value(scrape(first), "eureka_instances", status="UP") == 2
    assert value(scrape(second), "eureka_instances", status="UP") == 0
    assert (
        "eureka_http_requests_total",
        frozenset({("method", "POST"), ("route", "/eureka/apps/{app}"), ("status", "204")}),
    ) not in scrape(second)


def test_metrics_can_be_turned_off(create_app: AppFactory, registry: Registry) -> None:
    client = falcon.testing.TestClient(create_app(registry, metrics=False))

    assert client.simulate_get("/metrics").status_code == 404
