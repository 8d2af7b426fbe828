"""The assembled stacks: every layer together over a mock network, and the two-stack split."""

from __future__ import annotations

import pytest

from eureka_embed.client import (
    ConnectError,
    EurekaEndpoint,
    HttpRequest,
    HttpResponse,
    MockTransport,
    RequestKind,
    TransportConfig,
    build_client_stack,
    client_stack,
    eureka_transport,
    query_client,
    registration_client,
)
from eureka_embed.client.metrics import ClientMetrics
from eureka_embed.client.resolvers import StaticResolver
from eureka_embed.clock import ManualClock
from tests.client.support import answer, apps_answer, host_of, instance


class Network:
    """Mock servers a, b, c: a refuses connections, b redirects to c, c answers."""

    def __init__(self) -> None:
        self.transports: list[MockTransport] = []
        self.endpoints: list[str] = []
        self.log: list[str] = []

    def handle(self, request: HttpRequest) -> HttpResponse:
        host = host_of(request)
        self.log.append(host)
        if host == "a":
            raise ConnectError("a: connection refused")
        if host == "b":
            return answer(302, headers={"location": "http://c:8761/eureka/apps/"})
        if request.method == "GET":
            return apps_answer([instance(1)])
        return answer(204 if request.method == "POST" else 200)

    def transport(self, endpoint: EurekaEndpoint) -> MockTransport:
        self.endpoints.append(endpoint.url)
        made = MockTransport(self.handle)
        self.transports.append(made)
        return made


def test_failover_then_redirect_then_pinned_with_every_exchange_counted() -> None:
    network = Network()
    metrics = ClientMetrics("stack-test", export_to_prometheus=False)
    client = build_client_stack(
        StaticResolver("http://a:8761/eureka/,http://b:8761/eureka/"),
        metrics=metrics,
        transport_factory=network.transport,
    )

    first = client.get_applications()
    second = client.get_applications()

    assert first.status == second.status == 200
    assert network.log == ["a", "b", "c", "c"]
    assert network.endpoints == [
        "http://a:8761/eureka/",
        "http://b:8761/eureka/",
        "http://c:8761/eureka/",
    ], "the transport factory is told which server each transport is for"
    snapshot = metrics.snapshot()
    assert snapshot.count(RequestKind.GET_APPLICATIONS, "ConnectError") == 1
    assert snapshot.count(RequestKind.GET_APPLICATIONS, 302) == 1
    assert snapshot.count(RequestKind.GET_APPLICATIONS, 200) == 2
    client.shutdown()
    assert all(t.closed for t in network.transports), "every per-server transport is closed"


def test_a_new_session_starts_over_with_fresh_connections(clock: ManualClock) -> None:
    network = Network()
    client = build_client_stack(
        StaticResolver("http://c:8761/eureka/"),
        config=TransportConfig(reconnect_interval_s=60),
        metrics=ClientMetrics("stack-test", export_to_prometheus=False),
        transport_factory=network.transport,
        clock=clock,
    )
    client.get_applications()
    assert len(network.transports) == 1

    clock.advance(seconds=91)  # past even the longest session (1.5 x 60 s)
    client.get_applications()

    assert len(network.transports) == 2
    assert network.transports[0].closed and not network.transports[1].closed
    client.shutdown()


def test_registration_and_query_traffic_use_separate_stacks() -> None:
    network = Network()
    transport = eureka_transport("http://c:8761/eureka/", transport_factory=network.transport)

    transport.registration.register(instance(1))
    transport.registration.send_heartbeat("ORDERS", instance(1).instance_id)
    transport.query.get_applications()
    transport.query.get_delta()

    assert transport.registration is not transport.query
    registration = transport.registration_metrics.snapshot()
    query = transport.query_metrics.snapshot()
    assert (registration.name, query.name) == ("registration", "query")
    assert set(registration.operations) == {RequestKind.REGISTER, RequestKind.HEARTBEAT}
    assert set(query.operations) == {RequestKind.GET_APPLICATIONS, RequestKind.GET_DELTA}
    assert len(network.transports) == 2, "one connection pool per stack"
    transport.shutdown()
    assert all(t.closed for t in network.transports)


def test_one_function_builds_the_stack_for_either_purpose() -> None:
    network = Network()
    stacks = {
        purpose: client_stack("http://c:8761/eureka/", purpose, transport_factory=network.transport)
        for purpose in ("registration", "query")
    }
    aliases = [
        registration_client("http://c:8761/eureka/", transport_factory=network.transport),
        query_client("http://c:8761/eureka/", transport_factory=network.transport),
    ]

    for stack in [*stacks.values(), *aliases]:
        assert stack.get_applications().status == 200
        stack.shutdown()

    assert network.log == ["c"] * 4
    assert all(t.closed for t in network.transports)
    with pytest.raises(ValueError, match="purpose must be one of registration, query"):
        client_stack("http://c:8761/eureka/", "gossip")  # type: ignore[arg-type]
