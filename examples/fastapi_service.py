"""Two FastAPI services that find each other through Eureka and call each other by name.

``payments`` answers ``GET /balance``; ``orders`` answers ``GET /order`` by calling
``http://payments/balance`` through :class:`~eureka_embed.client.httpx.AsyncEurekaTransport`,
which sends it to one of PAYMENTS' UP instances as the registry lists them. Each service
registers in its FastAPI lifespan (``async with DiscoveryClient(...)``: registration, the
first fetch and, on the way out, the cancel run off the event loop) and deregisters when it
stops. Both run on uvicorn in one process and one event loop, on free ports.

Run it (needs the ``server``, ``asgi`` and ``httpx`` extras and FastAPI)::

    python examples/fastapi_service.py                       # with an in-process Eureka server
    python examples/fastapi_service.py --eureka http://127.0.0.1:8761/eureka/
    python examples/fastapi_service.py --check               # one call through, then stop

It prints ``NAME serving on URL`` for each service, and stops both cleanly on SIGINT (Ctrl-C)
or SIGTERM, exit status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from fastapi import FastAPI, Request

from eureka_embed.client import DiscoveryClient, DiscoveryConfig
from eureka_embed.client.httpx import AsyncEurekaTransport


def service_config(name: str, eureka: str, host: str, port: int) -> DiscoveryConfig:
    # The instance id defaults to host:name:port, as Spring's does.
    return DiscoveryConfig(name, service_urls=eureka, host_name=host, ip_addr=host, port=port)


def payments_app(config: DiscoveryConfig) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with DiscoveryClient(config):
            yield

    app = FastAPI(title="payments", lifespan=lifespan)

    @app.get("/balance")
    async def balance() -> dict[str, object]:
        return {"balance": 42, "served_by": f"{config.host_name}:{config.port}"}

    return app


def orders_app(config: DiscoveryConfig) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with DiscoveryClient(config) as discovery:
            inner = await _http_transport()
            transport = AsyncEurekaTransport(discovery, inner=inner)
            async with httpx.AsyncClient(transport=transport, timeout=5) as client:
                app.state.client = client
                yield

    app = FastAPI(title="orders", lifespan=lifespan)

    @app.get("/order")
    async def order(request: Request) -> dict[str, object]:
        client: httpx.AsyncClient = request.app.state.client
        # "payments" is the application's name in the registry, not a DNS name.
        answer = await client.get("http://payments/balance")
        answer.raise_for_status()
        return {"order": "accepted", "payments": answer.json()}

    return app


async def _http_transport() -> httpx.AsyncHTTPTransport:
    """An httpx transport made off the event loop: making one loads the CA certificates
    from disk, a blocking step of tens of milliseconds."""
    return await asyncio.to_thread(httpx.AsyncHTTPTransport)


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to :func:`serve`: two servers in one loop would
    each take the handlers from the other."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


NAMES = ("payments", "orders")


def build_servers(eureka: str, host: str) -> tuple[dict[str, _Server], dict[str, socket.socket]]:
    """Both services' uvicorn servers and listening sockets, made before the event loop
    runs: uvicorn imports its protocol modules when it loads a config."""
    sockets = {name: socket.create_server((host, 0)) for name in NAMES}
    ports = {name: sock.getsockname()[1] for name, sock in sockets.items()}
    apps = {
        "payments": payments_app(service_config("payments", eureka, host, ports["payments"])),
        "orders": orders_app(service_config("orders", eureka, host, ports["orders"])),
    }
    servers = {}
    for name in NAMES:
        config = uvicorn.Config(apps[name], log_level="warning", lifespan="on")
        config.load()
        servers[name] = _Server(config)
    return servers, sockets


async def serve(servers: dict[str, _Server], sockets: dict[str, socket.socket], check: bool) -> int:
    names = NAMES
    ports = {name: sock.getsockname()[1] for name, sock in sockets.items()}
    host = sockets["orders"].getsockname()[0]

    def stop() -> None:
        for server in servers.values():
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)
    running = [asyncio.create_task(servers[name].serve(sockets=[sockets[name]])) for name in names]
    for name in names:
        print(f"{name} serving on http://{host}:{ports[name]}", flush=True)
    status = 0
    if check:
        status = await _check(f"http://{host}:{ports['orders']}/order")
        stop()
    await asyncio.gather(*running)
    return status


async def _check(url: str) -> int:
    """Call orders until its call to payments goes through (payments may register after
    orders' first fetch: orders' copy then learns of it within a watch)."""
    async with httpx.AsyncClient(transport=await _http_transport(), timeout=5) as client:
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                answer = await client.get(url)
                if answer.status_code == 200:
                    print(f"orders answered: {answer.json()}", flush=True)
                    return 0
            await asyncio.sleep(0.1)
    print("orders never reached payments", file=sys.stderr, flush=True)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eureka", help="a Eureka service URL (default: a server in-process)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--check", action="store_true", help="call through once, then stop")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        eureka = args.eureka
        if eureka is None:
            from eureka_embed.registry import Registry
            from eureka_embed.server import EurekaServer

            server = EurekaServer(Registry(), host=args.host)
            server.start()
            stack.callback(server.stop)
            eureka = server.base_url
        servers, sockets = build_servers(eureka, args.host)
        return asyncio.run(serve(servers, sockets, args.check))
    return 1  # not reached: the ExitStack does not swallow exceptions


if __name__ == "__main__":
    sys.exit(main())
