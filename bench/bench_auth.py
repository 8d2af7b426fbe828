"""Heartbeats with ``serve --auth`` (a ``register`` user, HTTP Basic) against the same server
without it, on waitress and on uvicorn.

Run: ``python bench/bench_auth.py`` (about a minute; needs wrk and the ``asgi`` extra).
Every figure is the median (min-max) of interleaved rounds (``bench/rounds.py``); ratios are
taken within each round, against the server of the same kind without ``--auth``. wrk sends the
heartbeats of ``bench_http.py`` (``bench/wrk/renew.lua``) on 16 connections, each with the
user's ``Authorization`` header; the password hash has the default scrypt cost, so only the
verified-credential cache keeps the KDF off the heartbeat path.

Target (issue 13): with --auth / without >= 0.9, on each server.

A second table measures the same heartbeat in this process, without sockets: the WSGI app
called with an environ, and the ASGI app (its heartbeat fast path) called with a scope. It
shows the cost of the check itself, which on a shared machine the wrk figures bury in noise.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import http.client
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a source tree
    sys.path.insert(0, str(ROOT))

from bench.bench_http import APPS, register_over_http, registration, run_wrk, server_process  # noqa: E402  # noqa: E402
from bench.rounds import Spread, heading, interleaved, ratio, rounds_argument, row, target  # noqa: E402
from eureka_embed.auth import BasicAuth, hash_password  # noqa: E402

USER, PASSWORD = "bench", "bench-password-not-secret"
AUTHORIZATION = {
    "Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
}


def credentials_file(folder: str) -> str:
    path = Path(folder, "auth.toml")
    # The default cost, as `eureka-embed hash-password` makes it: ~50 ms a check uncached.
    path.write_text(
        f'[users.{USER}]\npassword = "{hash_password(PASSWORD)}"\nroles = ["register"]\n'
    )
    return str(path)


def refuses_anonymous_writes(root_url: str) -> bool:
    host, port = root_url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("PUT", "/eureka/apps/APP0/host0:app0:8080")
        return conn.getresponse().status == 401
    finally:
        conn.close()


BEAT_PATH = "/eureka/apps/APP0/host0:app0:8080"
BEAT_QUERY = "status=UP&lastDirtyTimestamp=1000000000000"


def in_process_apps(auth_file: str) -> dict[str, Callable[[int], float]]:
    """Heartbeats/s of each adapter's app called directly, with and without ``auth``."""
    from eureka_embed.asgi import create_app as asgi_app
    from eureka_embed.codec import WireFormat, decode_instance
    from eureka_embed.registry import Registry
    from eureka_embed.wsgi import create_app as wsgi_app

    registry = Registry()
    registry.register(
        decode_instance(registration(0), WireFormat.JSON, now_ms=time.time_ns() // 10**6)
    )
    assert APPS > 0
    auth = BasicAuth.from_file(auth_file)
    header = AUTHORIZATION["Authorization"]

    def wsgi(app: Any, with_header: bool) -> Callable[[int], float]:
        environ = {
            "REQUEST_METHOD": "PUT", "PATH_INFO": BEAT_PATH, "QUERY_STRING": BEAT_QUERY,
            "SERVER_NAME": "bench", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
            "wsgi.errors": io.StringIO(),
        }  # fmt: skip
        if with_header:
            environ["HTTP_AUTHORIZATION"] = header

        def start_response(status: str, headers: object, exc_info: object = None) -> None:
            if not status.startswith("200"):
                raise RuntimeError(f"heartbeat answered {status}")

        def run(count: int) -> float:
            started = time.perf_counter()
            for _ in range(count):
                b"".join(app(dict(environ), start_response))
            return count / (time.perf_counter() - started)

        return run

    def asgi(app: Any, with_header: bool) -> Callable[[int], float]:
        headers = [(b"host", b"bench")]
        if with_header:
            headers.append((b"authorization", header.encode()))
        scope = {
            "type": "http", "method": "PUT", "path": BEAT_PATH, "root_path": "",
            "query_string": BEAT_QUERY.encode(), "headers": headers, "http_version": "1.1",
            "scheme": "http", "client": ("127.0.0.1", 5000), "server": ("bench", 80),
        }  # fmt: skip

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] != 200:
                raise RuntimeError(f"heartbeat answered {message['status']}")

        async def beats(count: int) -> float:
            started = time.perf_counter()
            for _ in range(count):
                await app(scope, receive, send)
            return count / (time.perf_counter() - started)

        return lambda count: asyncio.run(beats(count))

    return {
        "wsgi": wsgi(wsgi_app(registry), False),
        "wsgi+auth": wsgi(wsgi_app(registry, auth=auth), True),
        "asgi": asgi(asgi_app(registry), False),
        "asgi+auth": asgi(asgi_app(registry, auth=auth), True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=4.0, help="per wrk round")
    parser.add_argument("--servers", default="waitress,uvicorn")
    parser.add_argument("--beats", type=int, default=20_000, help="per in-process round")
    parser.add_argument(
        "--header-baseline",
        action="store_true",
        help="also send the Authorization header to the server without --auth",
    )
    rounds_argument(parser)
    args = parser.parse_args()
    kinds = [kind.strip() for kind in args.servers.split(",") if kind.strip()]
    if kinds:
        bench_servers(kinds, args)
    bench_in_process(args)


def bench_servers(kinds: list[str], args: argparse.Namespace) -> None:
    """The wrk table: each server kind with and without ``--auth``."""
    serve = ["-m", "eureka_embed", "serve", "--port", "0", "--store", "memory://"]
    with contextlib.ExitStack() as stack:
        auth_file = credentials_file(stack.enter_context(tempfile.TemporaryDirectory()))
        servers: dict[str, str] = {}
        headers: dict[str, dict[str, str]] = {}
        for kind in kinds:
            servers[kind] = stack.enter_context(server_process([*serve, "--server", kind]))
            headers[kind] = {}
            with_auth = [*serve, "--server", kind, "--auth", auth_file]
            servers[f"{kind}+auth"] = stack.enter_context(server_process(with_auth))
            headers[f"{kind}+auth"] = AUTHORIZATION
            if not refuses_anonymous_writes(servers[f"{kind}+auth"]):
                raise RuntimeError(f"{kind} with --auth let an anonymous heartbeat through")
        for name, url in servers.items():
            register_over_http(url, args.instances, headers[name])
            run_wrk(url, 2, args.instances, headers[name])  # warm-up
        if args.header_baseline:
            # The server without --auth, sent the same header: what the header costs the
            # HTTP server, apart from the check.
            for kind in kinds:
                servers[f"{kind}+header"] = servers[kind]
                headers[f"{kind}+header"] = AUTHORIZATION
        runs = interleaved(
            {
                name: functools.partial(run_wrk, url, args.seconds, args.instances, headers[name])
                for name, url in servers.items()
            },
            args.rounds,
        )
    heading(f"heartbeats with --auth: wrk, 16 connections, {args.seconds:g} s a round", args.rounds)
    rates = {name: [r.rate for r in found] for name, found in runs.items()}
    for name in servers:
        label = f"serve --server {name.replace('+auth', ' --auth')}".replace(
            "+header", ", Authorization sent"
        )
        row(f"{label}, req/s", Spread.of(rates[name]).show())
        row(f"{label}, p99 ms", Spread.of(r.p99_us / 1000 for r in runs[name]).show(".1f"))
    for kind in kinds:
        against = ratio(rates[f"{kind}+auth"], rates[kind])
        row(
            f"{kind}: --auth / without",
            against.show(".2f"),
            target(">= 0.9", against.median >= 0.9),
        )
        if args.header_baseline:
            sent = ratio(rates[f"{kind}+auth"], rates[f"{kind}+header"])
            row(f"{kind}: --auth / without, the header sent to both", sent.show(".2f"))
    failed = {name: sum(r.non_2xx + r.socket_errors for r in found) for name, found in runs.items()}
    row("non-2xx + socket errors, all rounds", ", ".join(f"{n} {c}" for n, c in failed.items()))


def bench_in_process(args: argparse.Namespace) -> None:
    """The in-process table: each adapter's app called directly."""
    with tempfile.TemporaryDirectory() as folder:
        apps = in_process_apps(credentials_file(folder))
        for run in apps.values():
            run(args.beats // 10)  # warm-up
        found = interleaved(
            {name: functools.partial(run, args.beats) for name, run in apps.items()}, args.rounds
        )
    heading(f"the same heartbeat in process, {args.beats:,} a round (no sockets)", args.rounds)
    for name, rates_of in found.items():
        row(f"{name.replace('+auth', ' --auth')} app, heartbeats/s", Spread.of(rates_of).show())
    for kind in ("wsgi", "asgi"):
        against = ratio(found[f"{kind}+auth"], found[kind])
        row(f"{kind} app: auth / without", against.show(".2f"))


if __name__ == "__main__":
    main()
