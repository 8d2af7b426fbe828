"""Service URLs and the order in which servers are tried."""

from __future__ import annotations

import pytest

from eureka_embed.client import (
    EurekaEndpoint,
    StaticResolver,
    ZoneAwareResolver,
    parse_service_urls,
)
from eureka_embed.errors import InvalidInput


def test_default_zone_string_is_split_trimmed_and_normalised() -> None:
    endpoints = parse_service_urls(" http://a:8761/eureka ,http://b:8761/eureka/,, ")

    assert [e.url for e in endpoints] == ["http://a:8761/eureka/", "http://b:8761/eureka/"]


def test_credentials_are_kept_out_of_the_url_repr_and_str() -> None:
    endpoint = EurekaEndpoint.parse("https://ops:p%40ss@eureka.example.com/eureka/")

    assert endpoint.url == "https://eureka.example.com/eureka/"
    assert (endpoint.username, endpoint.password) == ("ops", "p@ss")
    assert "p@ss" not in repr(endpoint) and "p%40ss" not in repr(endpoint)
    assert str(endpoint) == endpoint.url
    assert endpoint.authorization == "Basic b3BzOnBAc3M="


def test_no_credentials_no_authorization() -> None:
    assert EurekaEndpoint.parse("http://a:8761/eureka/").authorization is None


@pytest.mark.parametrize(
    "bad", ["ftp://a/eureka/", "a:8761/eureka", "http:///eureka/", "http://a:notaport/eureka/"]
)
def test_bad_service_urls_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        EurekaEndpoint.parse(bad)


def test_a_bad_url_error_does_not_show_its_password() -> None:
    with pytest.raises(InvalidInput) as caught:
        EurekaEndpoint.parse("http://ops:hunter2@a:port/eureka/")

    assert "hunter2" not in str(caught.value)


def test_static_resolver_keeps_the_given_order() -> None:
    resolver = StaticResolver("http://b:8761/eureka/,http://a:8761/eureka/")

    assert [e.url for e in resolver.endpoints()] == [
        "http://b:8761/eureka/",
        "http://a:8761/eureka/",
    ]


ZONES = {
    "zone-a": "http://a1/eureka/,http://a2/eureka/",
    "zone-b": ["http://b1/eureka/"],
    "zone-c": "http://c1/eureka/",
}


def test_zone_aware_order_starts_with_the_clients_zone_then_wraps_around() -> None:
    resolver = ZoneAwareResolver(ZONES, "zone-b")

    assert [(e.zone, e.url) for e in resolver.endpoints()] == [
        ("zone-b", "http://b1/eureka/"),
        ("zone-c", "http://c1/eureka/"),
        ("zone-a", "http://a1/eureka/"),
        ("zone-a", "http://a2/eureka/"),
    ]


def test_unknown_own_zone_keeps_the_map_order() -> None:
    urls = [e.url for e in ZoneAwareResolver(ZONES, "zone-x").endpoints()]

    assert urls[0] == "http://a1/eureka/"


def test_spread_seed_shuffles_within_zones_stably_per_client() -> None:
    zones = {"z": ",".join(f"http://s{n}/eureka/" for n in range(8)), "other": "http://o/eureka/"}

    def order(seed: str) -> list[str]:
        return [e.url for e in ZoneAwareResolver(zones, "z", spread_seed=seed).endpoints()]

    assert order("10.0.0.1") == order("10.0.0.1")
    assert {tuple(order(f"10.0.0.{n}")) for n in range(10)} != {tuple(order("10.0.0.1"))}
    assert all(order(f"10.0.0.{n}")[-1] == "http://o/eureka/" for n in range(10))
