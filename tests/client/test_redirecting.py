"""The redirect layer: 302s followed, the target remembered, loops and the limit refused."""

from __future__ import annotations

import pytest

from eureka_embed.client import (
    ConnectError,
    EurekaEndpoint,
    EurekaHttpClient,
    HttpRequest,
    HttpResponse,
    MockTransport,
    RedirectError,
    RedirectingClient,
    RestEurekaHttpClient,
    TransportError,
)
from eureka_embed.client.redirecting import redirect_target
from tests.client.support import answer, apps_answer, host_of, instance


class Servers:
    """Mock servers by host: ``redirects[host]`` is a Location to answer 302 with."""

    def __init__(self) -> None:
        self.redirects: dict[str, str] = {}
        self.failing: set[str] = set()
        self.transport = MockTransport(self._handle)
        self.made: list[EurekaEndpoint] = []

    def _handle(self, request: HttpRequest) -> HttpResponse:
        host = host_of(request)
        if host in self.failing:
            raise ConnectError(f"{host} refused")
        location = self.redirects.get(host)
        if location is not None:
            return answer(302, headers={"location": location})
        return apps_answer([instance(1)])

    def hit(self) -> list[str]:
        hosts = [host_of(r) for r in self.transport.requests]
        self.transport.requests.clear()
        return hosts

    def factory(self, endpoint: EurekaEndpoint) -> EurekaHttpClient:
        self.made.append(endpoint)
        return RestEurekaHttpClient(endpoint, self.transport)

    def client(self, url: str = "http://a:8761/eureka/", **limits: int) -> RedirectingClient:
        return RedirectingClient(EurekaEndpoint.parse(url), self.factory, **limits)


def test_a_redirect_is_followed_and_its_target_remembered() -> None:
    servers = Servers()
    servers.redirects["a"] = "http://b:8761/eureka/apps/"
    client = servers.client()

    first = client.get_applications()
    second = client.get_applications()

    assert first.status == second.status == 200
    assert servers.hit() == ["a", "b", "b"]
    assert client.target == "http://b:8761/eureka/"


def test_a_location_naming_a_resource_leads_to_the_service_url() -> None:
    servers = Servers()
    servers.redirects["a"] = "http://b:8080/eureka/v2/apps/ORDERS/i-1?status=UP"
    client = servers.client()

    client.send_heartbeat("ORDERS", "i-1")

    assert servers.transport.requests[-1].url == "http://b:8080/eureka/v2/apps/ORDERS/i-1"


def test_a_failure_at_the_remembered_target_starts_over_from_the_endpoint() -> None:
    servers = Servers()
    servers.redirects["a"] = "http://b:8761/eureka/apps/"
    client = servers.client()
    client.get_applications()
    servers.failing.add("b")

    with pytest.raises(ConnectError):
        client.get_applications()
    servers.failing.clear()
    del servers.redirects["a"]
    servers.hit()
    client.get_applications()

    assert servers.hit() == ["a"]
    assert client.target == "http://a:8761/eureka/"


def test_ten_redirects_are_followed() -> None:
    servers = Servers()
    for n in range(10):
        servers.redirects[f"s{n}"] = f"http://s{n + 1}:8761/eureka/apps/"

    response = servers.client("http://s0:8761/eureka/").get_applications()

    assert response.status == 200
    assert servers.hit()[-1] == "s10"


def test_more_redirects_than_the_limit_is_a_typed_error() -> None:
    servers = Servers()
    for n in range(11):
        servers.redirects[f"s{n}"] = f"http://s{n + 1}:8761/eureka/apps/"

    with pytest.raises(RedirectError, match="more than 10 redirects") as caught:
        servers.client("http://s0:8761/eureka/").get_applications()

    assert isinstance(caught.value, TransportError)
    assert len(servers.hit()) == 11, "the eleventh 302 is not followed"


def test_the_limit_is_configurable() -> None:
    servers = Servers()
    servers.redirects["a"] = "http://b:8761/eureka/apps/"

    with pytest.raises(RedirectError):
        servers.client(max_redirects=0).get_applications()


def test_a_redirect_loop_is_a_typed_error_without_using_up_the_limit() -> None:
    servers = Servers()
    servers.redirects["a"] = "http://b:8761/eureka/apps/"
    servers.redirects["b"] = "http://a:8761/eureka/apps/"

    with pytest.raises(RedirectError, match="loop"):
        servers.client().get_applications()

    assert servers.hit() == ["a", "b"]


@pytest.mark.parametrize(
    "location", [None, "", "http://b:8761/elsewhere", "mailto:ops@example.com"]
)
def test_unusable_locations_are_typed_errors(location: str | None) -> None:
    with pytest.raises(RedirectError):
        redirect_target(location, EurekaEndpoint.parse("http://a:8761/eureka/"))


def test_a_relative_location_is_resolved_against_the_current_server() -> None:
    target = redirect_target("/v2/apps/", EurekaEndpoint.parse("http://a:8761/eureka/"))

    assert target.url == "http://a:8761/v2/"


def test_credentials_follow_to_the_same_host_only() -> None:
    endpoint = EurekaEndpoint.parse("http://ops:secret@a:8761/eureka/")

    same_host = redirect_target("http://a:9000/eureka/apps/", endpoint)
    other_host = redirect_target("http://b:8761/eureka/apps/", endpoint)

    assert same_host.authorization == endpoint.authorization
    assert other_host.authorization is None


def test_clients_left_behind_are_shut_down() -> None:
    closed: list[str] = []

    class Tracking(RestEurekaHttpClient):
        def shutdown(self) -> None:
            closed.append(self.endpoint.url)
            super().shutdown()

    servers = Servers()
    servers.redirects["a"] = "http://b:8761/eureka/apps/"
    client = RedirectingClient(
        EurekaEndpoint.parse("http://a:8761/eureka/"),
        lambda e: Tracking(e, servers.transport),
    )

    client.get_applications()
    assert closed == ["http://a:8761/eureka/"]
    client.shutdown()
    assert closed == ["http://a:8761/eureka/", "http://b:8761/eureka/"]
