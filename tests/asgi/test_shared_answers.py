"""Watchers woken by one change and asking alike get one answer, never a stale or foreign one.

The watch fast path runs the handler once for identical watching reads (same path, query and
headers) while the view's index stands still (:mod:`eureka_embed.asgi.watch_fast_path`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import falcon.testing
import pytest

from eureka_embed.asgi.app import EurekaAsgiApp, falcon_asgi_app
from eureka_embed.http.api import EurekaApi
from eureka_embed.http.messages import EndpointRequest, EndpointResponse, Handler
from eureka_embed.registry import Registry
from tests.wsgi.helpers import JSON, XML, json_body

INDEX = "X-Eureka-Index"
APP_PATH = "/eureka/apps/ORDERS"
POST_HEADERS = {"Content-Type": "application/json"}


@pytest.fixture
def served() -> Iterator[tuple[EurekaAsgiApp, EurekaApi, list[str]]]:
    """The app over a registry holding ORDERS, and the paths its ``apps/{app}`` GET ran for."""
    registry = Registry()
    api = EurekaApi(registry)
    runs: list[str] = []
    routes = []
    for route in api.routes:
        if route.template.endswith("apps/{app}") and "GET" in route.handlers:
            handler = route.handlers["GET"]

            def counted(req: EndpointRequest, handler: Handler = handler) -> EndpointResponse:
                runs.append(req.path)
                return handler(req)

            routes.append(dataclasses.replace(route, handlers={**route.handlers, "GET": counted}))
        else:
            routes.append(route)
    api.routes = tuple(routes)
    app = falcon_asgi_app(api, threads=2)
    try:
        yield app, api, runs
    finally:
        api.close()
        registry.close()


async def _register(conductor: falcon.testing.ASGIConductor, n: int) -> None:
    answer = await conductor.simulate_post(APP_PATH, body=json_body(n), headers=POST_HEADERS)
    assert answer.status_code == 204


async def _held(
    conductor: falcon.testing.ASGIConductor,
    api: EurekaApi,
    index: str,
    accepts: list[dict[str, str]],
) -> list[asyncio.Task[falcon.testing.Result]]:
    before = api.watches.waiting
    tasks = [
        asyncio.create_task(
            conductor.simulate_get(APP_PATH, params={"index": index, "wait": "30s"}, headers=accept)
        )
        for accept in accepts
    ]
    while api.watches.waiting < before + len(accepts):
        await asyncio.sleep(0.01)
    return tasks


def test_identical_watchers_woken_by_one_change_share_one_run_of_the_handler(
    served: tuple[EurekaAsgiApp, EurekaApi, list[str]],
) -> None:
    app, api, runs = served

    async def scenario() -> list[falcon.testing.Result]:
        async with falcon.testing.ASGIConductor(app) as conductor:
            await _register(conductor, 1)
            index = (await conductor.simulate_get(APP_PATH, headers=JSON)).headers[INDEX]
            runs.clear()
            tasks = await _held(conductor, api, index, [JSON] * 20)
            await _register(conductor, 2)
            answers = await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
        return list(answers)

    answers = asyncio.run(scenario())
    assert all(a.status_code == 200 and b"host2:orders" in a.content for a in answers)
    assert len({(a.headers[INDEX], a.content) for a in answers}) == 1
    # One run for 20 watchers: inline, and once more in the pool if it met a cache miss.
    assert 1 <= len(runs) <= 2


def test_watchers_asking_for_other_formats_get_their_own(
    served: tuple[EurekaAsgiApp, EurekaApi, list[str]],
) -> None:
    app, api, _ = served

    async def scenario() -> list[falcon.testing.Result]:
        async with falcon.testing.ASGIConductor(app) as conductor:
            await _register(conductor, 1)
            index = (await conductor.simulate_get(APP_PATH, headers=JSON)).headers[INDEX]
            tasks = await _held(conductor, api, index, [JSON, XML, JSON, XML])
            await _register(conductor, 2)
            answers = await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
        return list(answers)

    types = [a.headers["Content-Type"].split(";")[0] for a in asyncio.run(scenario())]
    assert types == ["application/json", "application/xml"] * 2


def test_an_identical_read_after_another_change_sees_that_change(
    served: tuple[EurekaAsgiApp, EurekaApi, list[str]],
) -> None:
    app, api, _ = served

    async def scenario() -> tuple[falcon.testing.Result, falcon.testing.Result]:
        async with falcon.testing.ASGIConductor(app) as conductor:
            await _register(conductor, 1)
            index = (await conductor.simulate_get(APP_PATH, headers=JSON)).headers[INDEX]
            (first,) = await _held(conductor, api, index, [JSON])
            await _register(conductor, 2)
            woken = await asyncio.wait_for(first, timeout=10)
            await _register(conductor, 3)
            # The same request again: answered at once, from the view as it is now.
            again = await conductor.simulate_get(
                APP_PATH, params={"index": index, "wait": "30s"}, headers=JSON
            )
        return woken, again

    woken, again = asyncio.run(scenario())
    assert b"host3:orders" not in woken.content
    assert b"host3:orders" in again.content
    assert int(again.headers[INDEX]) > int(woken.headers[INDEX])


def test_a_stopping_server_answers_503_even_to_a_read_answered_alike_before(
    served: tuple[EurekaAsgiApp, EurekaApi, list[str]],
) -> None:
    app, api, _ = served

    async def scenario() -> tuple[int, int]:
        async with falcon.testing.ASGIConductor(app) as conductor:
            await _register(conductor, 1)
            index = (await conductor.simulate_get(APP_PATH, headers=JSON)).headers[INDEX]
            params = {"index": index, "wait": "0s"}  # answered at once, index unchanged
            before = await conductor.simulate_get(APP_PATH, params=params, headers=JSON)
            api.watches.close()
            after = await conductor.simulate_get(APP_PATH, params=params, headers=JSON)
        return before.status_code, after.status_code

    assert asyncio.run(scenario()) == (200, 503)
