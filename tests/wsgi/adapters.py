"""The two framework adapters the HTTP behaviour suite runs against: one ``create_app`` each.

Both take the same options and must answer alike; ``falcon.testing.TestClient`` drives either.
The ``create_app`` fixture (tests/wsgi/conftest.py, ids ``wsgi`` and ``asgi``) hands a test one
of them, so a test written once runs against both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final

import falcon.testing

from eureka_embed.asgi import create_app as create_asgi_app
from eureka_embed.wsgi import create_app as create_wsgi_app

#: ``create_app(registry, **options)`` of either adapter; the app is typed loosely, as
#: ``falcon.testing.TestClient`` takes either kind.
AppFactory = Callable[..., Any]


ADAPTERS: Final[dict[str, AppFactory]] = {"wsgi": create_wsgi_app, "asgi": create_asgi_app}


class ThreadedAsgiClient(falcon.testing.TestClient):
    """``falcon.testing.TestClient`` for an ASGI app, callable from several threads at once.

    TestClient runs ASGI requests on one event loop per process, so two threads cannot both be
    in a request; tests that hold a request (a watch) in one thread while another writes need
    that. Each call runs on an event loop of its own thread instead.
    """

    def simulate_request(self, *args: Any, **kwargs: Any) -> falcon.testing.Result:
        async def run() -> falcon.testing.Result:
            async with falcon.testing.ASGIConductor(self.app) as conductor:
                result: falcon.testing.Result = await conductor.simulate_request(*args, **kwargs)
            return result

        return asyncio.run(run())
