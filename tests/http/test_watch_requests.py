"""What an adapter asks a route before calling its handler: ``Route.watch_for``, and the
``index`` and ``wait`` parameters it reads (no web framework involved)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from eureka_embed.errors import InvalidInput
from eureka_embed.http.api import EurekaApi
from eureka_embed.http.endpoints import Route
from eureka_embed.http.messages import EndpointRequest
from eureka_embed.http.watches import DEFAULT_WAIT_S, MAX_WAIT_S, WatchRequest, parse_wait
from eureka_embed.registry import Registry
from eureka_embed.storage.view_index import ALL, View, app_view, vip_view


@pytest.fixture
def api() -> Iterator[EurekaApi]:
    registry = Registry()
    made = EurekaApi(registry)
    try:
        yield made
    finally:
        made.close()
        registry.close()


def _route(api: EurekaApi, template: str) -> Route:
    (route,) = (route for route in api.routes if route.template == template)
    return route


def _asking(query: dict[str, str], **params: str) -> EndpointRequest:
    return EndpointRequest("GET", "/", query=query, params=params)


@pytest.mark.parametrize(
    ("template", "params", "view"),
    [
        ("/eureka/apps", {}, ALL),
        ("/eureka/v2/apps/delta", {}, ALL),
        ("/eureka/apps/{app}", {"app": "orders"}, app_view("ORDERS")),
        (
            "/eureka/apps/{app}/{instance_id}",
            {"app": "Orders", "instance_id": "i"},
            app_view("orders"),
        ),
        ("/eureka/vips/{vip}", {"vip": "Orders-VIP"}, vip_view("orders-vip")),
        ("/eureka/svips/{vip}", {"vip": "s"}, View("svip", "s")),
    ],
)
def test_each_watchable_route_names_the_view_it_shows(
    api: EurekaApi, template: str, params: dict[str, str], view: View
) -> None:
    watch = _route(api, template).watch_for("GET", _asking({"index": "7"}, **params))

    assert watch == WatchRequest(view, 7, DEFAULT_WAIT_S)


def test_no_index_no_watch_and_only_reads_are_watched(api: EurekaApi) -> None:
    route = _route(api, "/eureka/apps/{app}/{instance_id}")
    params = {"app": "ORDERS", "instance_id": "i1"}

    assert route.watch_for("GET", _asking({}, **params)) is None
    assert route.watch_for("PUT", _asking({"index": "1"}, **params)) is None
    assert _route(api, "/eureka/status").watch_for("GET", _asking({"index": "1"})) is None


def test_a_malformed_index_raises_the_400_of_the_outcomes_table(api: EurekaApi) -> None:
    with pytest.raises(InvalidInput, match="index must be a non-negative integer"):
        _route(api, "/eureka/apps").watch_for("GET", _asking({"index": "1e3"}))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("2.5", 2.5),
        ("0", 0.0),
        (" 10s ", 10.0),
        ("6m", MAX_WAIT_S),
        ("1h", MAX_WAIT_S),
    ],
)
def test_wait_durations(text: str, seconds: float) -> None:
    assert parse_wait(text) == seconds


@pytest.mark.parametrize("text", ["", "-1", "-1s", "1d", "s", "1.s", "ten", "1e3"])
def test_malformed_waits_are_refused_with_the_reason(text: str) -> None:
    with pytest.raises(InvalidInput, match="wait must be a duration such as 500ms, 30s or 5m"):
        parse_wait(text)
