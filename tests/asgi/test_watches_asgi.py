"""Watches on the ASGI adapter hold no thread: many more than ``max_watchers`` (waitress's cap)
are held at once on one event loop, and one change wakes each of them."""

from __future__ import annotations

import asyncio

import falcon.testing

from eureka_embed.asgi.app import falcon_asgi_app
from eureka_embed.http.api import EurekaApi
from eureka_embed.registry import Registry
from tests.wsgi.helpers import JSON, json_body

INDEX = "X-Eureka-Index"
WATCHERS = 200


def test_watchers_past_the_waitress_cap_are_all_held_and_all_woken_by_one_change() -> None:
    registry = Registry()
    api = EurekaApi(registry, max_watchers=1)
    app = falcon_asgi_app(api, threads=2)

    async def scenario() -> list[falcon.testing.Result]:
        answers: list[falcon.testing.Result] = []
        async with falcon.testing.ASGIConductor(app) as conductor:
            first = await conductor.simulate_get("/eureka/apps", headers=JSON)
            index = first.headers[INDEX]
            watches = [
                asyncio.create_task(
                    conductor.simulate_get(
                        "/eureka/apps", params={"index": index, "wait": "30s"}, headers=JSON
                    )
                )
                for _ in range(WATCHERS)
            ]
            while api.watches.waiting < WATCHERS:
                await asyncio.sleep(0.01)
            assert not any(task.done() for task in watches)

            registered = await conductor.simulate_post(
                "/eureka/apps/ORDERS",
                body=json_body(1),
                headers={"Content-Type": "application/json"},
            )
            assert registered.status_code == 204
            answers += await asyncio.wait_for(asyncio.gather(*watches), timeout=10)
        return answers

    try:
        answers = asyncio.run(scenario())
    finally:
        api.close()
        registry.close()

    assert api.watches.refused == 0
    assert len({answer.headers[INDEX] for answer in answers}) == 1
    assert all(b"ORDERS" in answer.content for answer in answers)
