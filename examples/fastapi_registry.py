"""A FastAPI application that also serves a Eureka registry, mounted under ``/registry``.

Eureka clients use ``http://host:port/registry/eureka/`` as their service URL; the dashboard is
at ``/registry/`` and Prometheus metrics at ``/registry/metrics``. The application's own routes
(here ``GET /hello``) stay its own. FastAPI's lifespan runs the registry's maintenance
(eviction of expired leases, ...) while the application serves, and closes the registry after.

Run it (needs the ``asgi`` extra and FastAPI)::

    python examples/fastapi_registry.py                 # on 127.0.0.1:8080, a memory registry
    python examples/fastapi_registry.py --port 0 --store sqlite:///registry.db

It prints ``serving on URL`` with the service URL once uvicorn listens, and stops cleanly on
SIGINT (Ctrl-C, exit status 0) or SIGTERM (uvicorn drains requests in flight first).
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from eureka_embed.asgi import create_app
from eureka_embed.maintenance import MaintenanceRunner
from eureka_embed.registry import Registry
from eureka_embed.storage import store_from_url

PREFIX = "/registry"


def build_app(registry: Registry) -> FastAPI:
    """The application: its own routes, and the registry's app mounted at :data:`PREFIX`.

    The registry is the application's from then on: its lifespan closes it.
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # A mounted app gets no lifespan events of its own: the host runs what it needs.
        try:
            with MaintenanceRunner(registry):
                yield
        finally:
            registry.close()

    app = FastAPI(title="orders", lifespan=lifespan)

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "from the application's own route"}

    app.mount(PREFIX, create_app(registry, title="orders' registry"))
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--store", default="memory://", help="where the registry is kept")
    args = parser.parse_args(argv)

    # The registry owns the store it opened from the URL, and closes it with itself.
    registry = Registry(store_from_url(args.store), owns_store=True)
    # Bound here rather than by uvicorn, so that with --port 0 the URL printed is the real one;
    # connections made before uvicorn accepts wait in the backlog.
    sock = socket.create_server((args.host, args.port))
    host, port = sock.getsockname()[:2]
    server = uvicorn.Server(uvicorn.Config(build_app(registry), log_level="warning"))
    print(f"serving on http://{host}:{port}{PREFIX}/eureka/", flush=True)
    # After draining, uvicorn raises the signal that stopped it again: Ctrl-C (SIGINT) comes
    # back as KeyboardInterrupt, a clean stop here; SIGTERM ends the process as SIGTERM does.
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
