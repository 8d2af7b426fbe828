"""The retry layer: failover across servers, pinning, quarantine and its reset, exhaustion."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from eureka_embed.client import (
    Aborted,
    ConnectError,
    EurekaEndpoint,
    EurekaHttpClient,
    HttpRequest,
    HttpResponse,
    MockTransport,
    NoEndpoints,
    RequestKind,
    RestEurekaHttpClient,
    RetriesExhausted,
    RetryingClient,
    StaticResolver,
    TransportError,
)
from eureka_embed.client.retrying import try_elsewhere
from tests.client.support import answer, apps_answer, host_of, instance


class Cluster:
    """Mock servers by host name; each answers ``behaviour[host]`` (a status, or an error)."""

    def __init__(self, hosts: str) -> None:
        self.hosts = hosts.split(",")
        self.behaviour: dict[str, int | TransportError] = dict.fromkeys(self.hosts, 200)
        self.transport = MockTransport(self._handle)
        self.clients_made = 0

    def _handle(self, request: HttpRequest) -> HttpResponse:
        outcome = self.behaviour[host_of(request)]
        if isinstance(outcome, TransportError):
            raise outcome
        if outcome == 200 and request.method == "GET":
            return apps_answer([instance(1)])
        return answer(outcome)

    def down(self, *hosts: str) -> None:
        for host in hosts:
            self.behaviour[host] = ConnectError(f"{host}: connection refused")

    def up(self, *hosts: str) -> None:
        for host in hosts:
            self.behaviour[host] = 200

    def hit(self) -> list[str]:
        """Hosts requested since the last call, in order."""
        hosts = [host_of(r) for r in self.transport.requests]
        self.transport.requests.clear()
        return hosts

    def factory(self, endpoint: EurekaEndpoint) -> EurekaHttpClient:
        self.clients_made += 1
        return RestEurekaHttpClient(endpoint, self.transport)

    def client(
        self, status_rule: Callable[[RequestKind, int], bool] = try_elsewhere
    ) -> RetryingClient:
        urls = ",".join(f"http://{h}:8761/eureka/" for h in self.hosts)
        return RetryingClient(StaticResolver(urls), self.factory, status_rule=status_rule)


def test_first_server_answers_and_is_pinned() -> None:
    cluster = Cluster("a,b,c")
    client = cluster.client()

    client.get_applications()
    client.get_applications()

    assert cluster.hit() == ["a", "a"]
    assert cluster.clients_made == 1, "the pinned server's client (and connections) is reused"
    assert client.pinned == "http://a:8761/eureka/"


def test_a_failing_server_is_skipped_and_quarantined() -> None:
    cluster = Cluster("a,b,c,d,e")
    cluster.down("a")
    client = cluster.client()

    response = client.get_applications()

    assert response.status == 200
    assert cluster.hit() == ["a", "b"]
    assert client.quarantined == {"http://a:8761/eureka/"}
    assert client.pinned == "http://b:8761/eureka/"


def test_quarantined_servers_are_not_tried_again_while_others_remain() -> None:
    # 10 servers: the quarantine is cleared at int(10 x 0.66) = 6 members.
    cluster = Cluster(",".join(f"s{n}" for n in range(10)))
    cluster.down("s0")
    client = cluster.client()
    client.get_applications()
    assert cluster.hit() == ["s0", "s1"]

    cluster.behaviour["s1"] = 503  # the pinned server starts failing
    client.get_applications()

    # s1 fails, then the candidates skip s0 and s1: s2 answers.
    assert cluster.hit() == ["s1", "s2"]
    assert client.quarantined == {"http://s0:8761/eureka/", "http://s1:8761/eureka/"}


def test_quarantine_is_cleared_when_too_few_servers_would_remain() -> None:
    cluster = Cluster("a,b,c,d")  # cleared at int(4 x 0.66) = 2 quarantined
    cluster.down("a")
    client = cluster.client()
    client.get_applications()  # a fails (quarantined), b pinned
    cluster.hit()
    cluster.up("a")
    cluster.down("b")

    client.get_applications()

    # b fails and joins a: two of four is the limit, so every server is a candidate again,
    # and a (back up) is tried first.
    assert cluster.hit() == ["b", "a"]
    assert client.quarantined == set()
    assert client.pinned == "http://a:8761/eureka/"


def test_retry_exhaustion_is_a_typed_transport_error_listing_every_try() -> None:
    cluster = Cluster("a,b,c,d")
    cluster.down("a", "c")
    cluster.behaviour["b"] = 503
    client = cluster.client()

    with pytest.raises(RetriesExhausted) as caught:
        client.register(instance(1))

    assert isinstance(caught.value, TransportError)
    assert cluster.hit() == ["a", "b", "c"], "three tries by default, never a fourth"
    failures = caught.value.failures
    assert [(f.endpoint, f.status) for f in failures] == [
        ("http://a:8761/eureka/", None),
        ("http://b:8761/eureka/", 503),
        ("http://c:8761/eureka/", None),
    ]
    assert isinstance(failures[0].error, ConnectError)


def test_fewer_servers_than_tries_means_fewer_tries() -> None:
    cluster = Cluster("a")
    cluster.down("a")
    client = cluster.client()

    with pytest.raises(RetriesExhausted):
        client.get_applications()

    assert cluster.hit() == ["a"]


def test_no_servers_at_all() -> None:
    client = RetryingClient(StaticResolver(""), Cluster("a").factory)

    with pytest.raises(NoEndpoints):
        client.get_applications()


@pytest.mark.parametrize(
    ("kind", "status", "elsewhere"),
    [
        (RequestKind.REGISTER, 500, True),
        (RequestKind.HEARTBEAT, 503, True),
        (RequestKind.GET_APPLICATIONS, 429, True),
        (RequestKind.GET_APPLICATIONS, 403, True),
        (RequestKind.GET_DELTA, 403, False),
        (RequestKind.HEARTBEAT, 404, False),
        (RequestKind.REGISTER, 400, False),
        (RequestKind.CANCEL, 404, False),
        (RequestKind.GET_INSTANCE, 404, False),
        (RequestKind.GET_APPLICATIONS, 302, False),
    ],
)
def test_which_answers_mean_try_another_server(
    kind: RequestKind, status: int, elsewhere: bool
) -> None:
    assert try_elsewhere(kind, status) is elsewhere


def test_a_heartbeat_404_is_an_answer_not_a_failure() -> None:
    cluster = Cluster("a,b")
    cluster.behaviour["a"] = 404
    client = cluster.client()

    response = client.send_heartbeat("ORDERS", "host1:orders:8080")

    assert response.status == 404
    assert cluster.hit() == ["a"]


def test_the_status_rule_can_be_replaced() -> None:
    cluster = Cluster("a,b")
    cluster.behaviour["a"] = 404

    def not_found_elsewhere(kind: RequestKind, status: int) -> bool:
        return status == 404

    client = cluster.client(status_rule=not_found_elsewhere)

    assert client.send_heartbeat("ORDERS", "host1:orders:8080").status == 200
    assert cluster.hit() == ["a", "b"]


def test_an_aborted_exchange_is_neither_retried_nor_held_against_the_server() -> None:
    cluster = Cluster("a,b,c")
    client = cluster.client()
    client.get_applications()
    cluster.hit()
    cluster.behaviour["a"] = Aborted("a: aborted by the client")

    with pytest.raises(Aborted):
        client.get_delta(index=3, wait_s=30)

    assert cluster.hit() == ["a"]
    assert client.quarantined == frozenset()
    assert client.pinned == "http://a:8761/eureka/"


def test_a_watch_refused_with_403_is_the_answer_as_for_a_polled_delta() -> None:
    cluster = Cluster("a,b")
    cluster.behaviour["a"] = 403
    client = cluster.client()

    assert client.get_delta(index=3, wait_s=30).status == 403
    assert cluster.hit() == ["a"]
