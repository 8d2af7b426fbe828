"""Watches over the WSGI app: the X-Eureka-Index header, and ``?index=`` reads held until their
view changes (a registry in memory; tests/http/test_watch_stores.py runs them on every store)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import falcon.testing
import pytest

from eureka_embed.asgi.app import falcon_asgi_app
from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.http.api import EurekaApi
from eureka_embed.registry import Registry
from eureka_embed.wsgi.app import falcon_app
from tests.wsgi.adapters import ThreadedAsgiClient
from tests.wsgi.helpers import instance_id, json_body, register
from tests.wsgi.watching import INDEX, Held, until

ID1 = instance_id(1)
REPLICATION = {"x-netflix-discovery-replication": "true"}
Result = falcon.testing.Result


@pytest.fixture
def api(registry: Registry) -> Iterator[EurekaApi]:
    made = EurekaApi(registry, max_watchers=4)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(params=["wsgi", "asgi"])
def client(request: pytest.FixtureRequest, api: EurekaApi) -> falcon.testing.TestClient:
    """Each watch test on both adapters: a WSGI thread held, or an awaited ASGI watch."""
    if request.param == "asgi":
        return ThreadedAsgiClient(falcon_asgi_app(api))
    return falcon.testing.TestClient(falcon_app(api))


def index_of(client: falcon.testing.TestClient, path: str) -> int:
    result = client.simulate_get(path, headers={"Accept": "application/json"})
    assert result.status_code in (200, 404), result.text
    return int(result.headers[INDEX])


def held_get(
    client: falcon.testing.TestClient, path: str, index: int, wait: str = "30s"
) -> Held[Result]:
    return Held(
        lambda: client.simulate_get(
            path, params={"index": str(index), "wait": wait}, headers={"Accept": "application/json"}
        )
    )


def hold(api: EurekaApi, client: falcon.testing.TestClient, path: str, **kw: str) -> Held[Result]:
    """A watch of ``path`` at its current index, once it is held."""
    before = api.watches.waiting
    held = held_get(client, path, index_of(client, path), **kw)
    until(lambda: api.watches.waiting > before, what=f"a watch of {path} held")
    assert held.still_held_after(0.1)
    return held


# -- the header ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "apps",
        "apps/",
        "apps/delta",
        "apps/ORDERS",
        f"apps/ORDERS/{ID1}",
        "vips/orders",
        "svips/orders-secure",
    ],
)
def test_every_watchable_read_carries_the_index(
    client: falcon.testing.TestClient, base: str, path: str
) -> None:
    register(client, base=base)

    result = client.simulate_get(f"{base}/{path}", headers={"Accept": "application/json"})

    assert result.status_code == 200
    assert int(result.headers[INDEX]) >= 1


@pytest.mark.parametrize("path", ["apps/NOBODY", f"apps/NOBODY/{ID1}", f"apps/ORDERS/{ID1}"])
def test_unknown_applications_and_instances_are_404s_with_an_index(
    client: falcon.testing.TestClient, base: str, path: str
) -> None:
    result = client.simulate_get(f"{base}/{path}")

    assert result.status_code == 404
    assert int(result.headers[INDEX]) >= 1


def test_other_routes_carry_no_index(client: falcon.testing.TestClient, base: str) -> None:
    register(client, base=base)

    assert INDEX not in client.simulate_get(f"{base}/status").headers
    assert INDEX not in client.simulate_put(f"{base}/apps/ORDERS/{ID1}").headers
    assert INDEX not in client.simulate_get(f"{base}/instances/{ID1}").headers


def test_a_304_carries_the_index_too(client: falcon.testing.TestClient, base: str) -> None:
    register(client, base=base)
    first = client.simulate_get(f"{base}/apps")

    again = client.simulate_get(f"{base}/apps", headers={"If-None-Match": first.headers["ETag"]})

    assert again.status_code == 304
    assert again.headers[INDEX] == first.headers[INDEX]


# -- what moves it ---------------------------------------------------------------------------


def _views(client: falcon.testing.TestClient, base: str) -> tuple[int, int, int]:
    return (
        index_of(client, f"{base}/apps"),
        index_of(client, f"{base}/apps/ORDERS"),
        index_of(client, f"{base}/vips/orders"),
    )


def _moved_all(before: tuple[int, int, int], after: tuple[int, int, int]) -> bool:
    return all(a > b for a, b in zip(after, before, strict=True))


def test_every_kind_of_change_moves_the_views_it_shows_in(
    client: falcon.testing.TestClient, registry: Registry, clock: ManualClock, base: str
) -> None:
    instance = f"{base}/apps/ORDERS/{ID1}"

    def registered() -> None:
        register(client, base=base)

    steps: dict[str, Callable[[], Result | None]] = {
        "register": registered,
        "status override": lambda: client.simulate_put(
            f"{instance}/status", params={"value": "OUT_OF_SERVICE"}
        ),
        "override removed": lambda: client.simulate_delete(f"{instance}/status"),
        "metadata": lambda: client.simulate_put(f"{instance}/metadata", params={"zone": "b"}),
        "cancel": lambda: client.simulate_delete(instance),
        "replicated register": lambda: client.simulate_post(
            f"{base}/apps/ORDERS",
            body=json_body(),
            headers={"Content-Type": "application/json", **REPLICATION},
        ),
    }
    for what, step in steps.items():
        before = _views(client, base)
        result = step()
        assert result is None or result.status_code in (200, 204), (what, result.text)
        assert _moved_all(before, _views(client, base)), what

    before = _views(client, base)
    clock.advance(seconds=200)  # past the 90 s lease
    assert [i.instance_id for i in registry.evict()] == [ID1]
    assert _moved_all(before, _views(client, base)), "eviction"


def test_a_heartbeat_moves_no_index(client: falcon.testing.TestClient, base: str) -> None:
    register(client, base=base)
    before = _views(client, base)

    assert client.simulate_put(f"{base}/apps/ORDERS/{ID1}").status_code == 200

    assert _views(client, base) == before


def test_a_change_of_another_application_leaves_an_applications_index(
    client: falcon.testing.TestClient, base: str
) -> None:
    register(client, base=base)
    orders, whole = index_of(client, f"{base}/apps/ORDERS"), index_of(client, f"{base}/apps")

    register(client, app="BILLING", base=base)

    assert index_of(client, f"{base}/apps/ORDERS") == orders
    assert index_of(client, f"{base}/apps") > whole


def test_pruning_the_change_log_never_lowers_an_index(
    client: falcon.testing.TestClient, registry: Registry, clock: ManualClock, base: str
) -> None:
    register(client, base=base)
    client.simulate_delete(f"{base}/apps/ORDERS/{ID1}")
    before = _views(client, base)
    clock.advance(seconds=600)

    assert registry.prune_changes() == 2

    assert _views(client, base) == before


# -- holding ---------------------------------------------------------------------------------


def test_a_watch_of_the_current_index_is_held_until_the_view_changes(
    api: EurekaApi, client: falcon.testing.TestClient, base: str
) -> None:
    register(client, base=base)
    held = hold(api, client, f"{base}/apps/ORDERS")
    before = index_of(client, f"{base}/apps/ORDERS")

    register(client, n=2, base=base)

    result = held.result()
    assert result.status_code == 200
    assert int(result.headers[INDEX]) > before
    assert len(result.json["application"]["instance"]) == 2  # the body shows the change
    assert api.watches.waiting == 0


def test_the_whole_registry_and_the_delta_wake_on_any_change(
    api: EurekaApi, client: falcon.testing.TestClient, base: str
) -> None:
    full, delta = hold(api, client, f"{base}/apps"), hold(api, client, f"{base}/apps/delta")

    register(client, app="BILLING", base=base)

    assert full.result().status_code == 200
    assert delta.result().json["applications"]["application"][0]["name"] == "BILLING"


def test_an_application_watch_ignores_other_applications(
    api: EurekaApi, client: falcon.testing.TestClient, base: str
) -> None:
    register(client, base=base)
    index = index_of(client, f"{base}/apps/ORDERS")
    held = hold(api, client, f"{base}/apps/ORDERS", wait="1s")

    register(client, app="BILLING", base=base)
    register(client, n=2, app="BILLING", base=base)

    result = held.result()
    assert held.elapsed >= 0.9  # it stayed until its wait ended
    assert int(result.headers[INDEX]) == index


def test_a_watch_for_an_application_to_appear(
    api: EurekaApi, client: falcon.testing.TestClient, base: str
) -> None:
    held = hold(api, client, f"{base}/apps/ORDERS")
    instance = hold(api, client, f"{base}/apps/ORDERS/{ID1}")

    register(client, base=base)

    assert held.result().status_code == 200
    assert instance.result().json["instance"]["instanceId"] == ID1


def test_moving_an_instance_between_vips_wakes_the_watchers_of_both(
    api: EurekaApi, client: falcon.testing.TestClient, base: str
) -> None:
    register(client, base=base, vipAddress="alpha")
    alpha, beta = hold(api, client, f"{base}/vips/alpha"), hold(api, client, f"{base}/vips/BETA")
    secure = hold(api, client, f"{base}/svips/orders-secure", wait="1s")

    register(client, base=base, vipAddress="beta")

    assert alpha.result().json["applications"]["application"] == []
    assert beta.result().json["applications"]["application"][0]["name"] == "ORDERS"
    # Still in the secure VIP, but written anew: a registration moves every view it shows in.
    assert secure.result().status_code == 200
    assert secure.elapsed < 0.9


def test_a_vip_watch_ignores_other_vips(
    api: EurekaApi, client: falcon.testing.TestClient, base: str
) -> None:
    register(client, base=base)
    index = index_of(client, f"{base}/vips/orders")
    held = hold(api, client, f"{base}/vips/orders", wait="1s")

    register(client, app="BILLING", base=base)

    assert int(held.result().headers[INDEX]) == index
    assert held.elapsed >= 0.9


def test_the_wait_bounds_the_hold_and_the_answer_keeps_the_index(
    api: EurekaApi, client: falcon.testing.TestClient, base: str
) -> None:
    index = index_of(client, f"{base}/apps")

    held = hold(api, client, f"{base}/apps", wait="1s")

    result = held.result()
    assert 0.9 <= held.elapsed < 5
    assert result.status_code == 200
    assert int(result.headers[INDEX]) == index


@pytest.mark.parametrize("wait", ["500ms", "0.5", "0.5s"])
def test_wait_takes_milliseconds_seconds_or_a_bare_number(
    api: EurekaApi, client: falcon.testing.TestClient, base: str, wait: str
) -> None:
    held = hold(api, client, f"{base}/apps", wait=wait)

    held.result()

    assert 0.4 <= held.elapsed < 4


@pytest.mark.parametrize("offset", [1, -1])
def test_an_index_other_than_the_current_one_is_answered_at_once(
    client: falcon.testing.TestClient, base: str, offset: int
) -> None:
    register(client, base=base)
    register(client, n=2, base=base)
    index = index_of(client, f"{base}/apps")

    # Above: the server restarted and counts lower than the client saw. Below: it moved on.
    held = held_get(client, f"{base}/apps", index + offset, wait="30s")

    assert int(held.result(timeout=5).headers[INDEX]) == index


def test_index_zero_is_answered_at_once(client: falcon.testing.TestClient, base: str) -> None:
    held = held_get(client, f"{base}/apps", 0, wait="30s")

    assert held.result(timeout=5).status_code == 200


def test_with_deltas_off_a_delta_watch_is_refused_at_once(base: str) -> None:
    registry = Registry(config=RegistryConfig(delta_enabled=False), clock=ManualClock())
    api = EurekaApi(registry, max_watchers=4)
    client = falcon.testing.TestClient(falcon_app(api))
    try:
        index = index_of(client, f"{base}/apps")

        held = held_get(client, f"{base}/apps/delta", index, wait="30s")

        assert held.result(timeout=5).status_code == 403
        assert held.elapsed < 5
    finally:
        api.close()
        registry.close()


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"index": "abc"}, "index must be a non-negative integer"),
        ({"index": "-1"}, "index must be a non-negative integer"),
        ({"index": ""}, "index must be a non-negative integer"),
        ({"index": "1", "wait": "soon"}, "wait must be a duration such as 500ms, 30s or 5m"),
        ({"index": "1", "wait": "-1s"}, "wait must be a duration"),
        ({"index": "1", "wait": "5d"}, "wait must be a duration"),
    ],
)
@pytest.mark.parametrize("path", ["apps", "apps/delta", "apps/ORDERS", "vips/orders"])
def test_a_malformed_index_or_wait_is_a_400_with_the_reason(
    client: falcon.testing.TestClient, base: str, path: str, params: dict[str, str], reason: str
) -> None:
    result = client.simulate_get(f"{base}/{path}", params=params, params_csv=False)

    assert result.status_code == 400
    assert reason in result.text


def test_a_watch_is_answered_503_at_once_when_the_app_closes(
    api: EurekaApi, client: falcon.testing.TestClient, base: str
) -> None:
    held = hold(api, client, f"{base}/apps", wait="60s")

    api.close()

    # A 503, not the unchanged view: that would keep a client here another poll interval,
    # while a 503 sends it to its next server at once.
    stopped = held.result(timeout=5)
    assert stopped.status_code == 503
    assert "stopping" in stopped.text
    assert held.elapsed < 5
    # Later watches are refused at once too; plain reads are still served while draining.
    later = held_get(client, f"{base}/apps", index_of(client, f"{base}/apps"), "60s")
    assert later.result(5).status_code == 503
    assert client.simulate_get(f"{base}/apps").status_code == 200


# -- the cap ---------------------------------------------------------------------------------


def test_past_max_watchers_a_watch_is_answered_at_once_and_counted(
    registry: Registry, base: str
) -> None:
    api = EurekaApi(registry, max_watchers=1)
    client = falcon.testing.TestClient(falcon_app(api))
    try:
        first = hold(api, client, f"{base}/apps", wait="30s")
        index = index_of(client, f"{base}/apps")

        second = held_get(client, f"{base}/apps", index, wait="30s").result(timeout=5)

        assert int(second.headers[INDEX]) == index
        assert not first.answered
        metrics = client.simulate_get("/metrics").text
        assert "eureka_watches_waiting 1.0" in metrics
        assert "eureka_watches_refused_total 1.0" in metrics
    finally:
        api.close()
    assert first.result(timeout=5).status_code == 503


def test_max_watchers_zero_answers_every_watch_at_once(registry: Registry, base: str) -> None:
    api = EurekaApi(registry, max_watchers=0)
    client = falcon.testing.TestClient(falcon_app(api))
    try:
        index = index_of(client, f"{base}/apps")
        assert held_get(client, f"{base}/apps", index, wait="30s").result(timeout=5)
        assert api.watches.refused == 1
    finally:
        api.close()
