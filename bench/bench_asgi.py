"""Heartbeats on uvicorn against a bare Falcon ASGI PUT, against waitress, and with open idle
connections.

Run: ``python bench/bench_asgi.py`` (about two minutes; needs wrk and the ``asgi`` extra).
Every figure is the median (min-max) of interleaved rounds (``bench/rounds.py``); ratios are
taken within each round. wrk sends the heartbeats of ``bench_http.py`` (``bench/wrk/renew.lua``)
on 16 connections to child processes:

- ``eureka-embed serve --server uvicorn`` and ``--server waitress`` (memory store);
- the baseline: a bare Falcon ASGI app (one PUT route answering 200) on the same
  ``UvicornServer`` (same uvicorn settings);
- ``serve --server uvicorn`` again while this process holds ``--idle`` (10,000) open
  connections to it, each having had one answer.

Targets (issue 11): uvicorn / bare ASGI >= 0.85; uvicorn / waitress >= 2.5; with the idle
connections open / none >= 0.9.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import resource
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a source tree
    sys.path.insert(0, str(ROOT))

from bench.bench_http import register_over_http, run_wrk, server_process  # noqa: E402
from bench.rounds import Spread, heading, interleaved, ratio, rounds_argument, row, target  # noqa: E402


def bare_asgi_server() -> None:
    """The baseline: UvicornServer (code and uvicorn settings) with a one-route ASGI app."""
    import logging

    import falcon
    import falcon.asgi

    from eureka_embed.asgi_server import UvicornServer

    class Renew:
        async def on_put(
            self, req: falcon.asgi.Request, resp: falcon.asgi.Response, app: str, iid: str
        ) -> None:
            resp.status = falcon.HTTP_200

    app = falcon.asgi.App()
    app.add_route("/eureka/apps/{app}/{iid}", Renew())
    logging.basicConfig(level=logging.INFO)
    UvicornServer(app=app, maintenance=False).serve_forever()


@contextlib.contextmanager
def idle_connections(root_url: str, count: int) -> Iterator[int]:
    """``count`` keep-alive connections to the server, each answered once, then left idle."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 256)), hard))
    host, port = root_url.removeprefix("http://").rsplit(":", 1)
    with contextlib.ExitStack() as stack:
        held = 0
        for _ in range(count):
            sock = stack.enter_context(socket.create_connection((host, int(port)), timeout=30))
            sock.sendall(b"GET /eureka/apps/NONE HTTP/1.1\r\nHost: bench\r\n\r\n")
            if not sock.recv(4096).startswith(b"HTTP/1.1 404"):
                raise RuntimeError(f"connection {held + 1} was not answered as expected")
            held += 1
        yield held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=4.0, help="per wrk round")
    parser.add_argument("--idle", type=int, default=10_000, help="idle connections held open")
    rounds_argument(parser)
    parser.add_argument("--bare-asgi-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_asgi_server:
        bare_asgi_server()
        return
    serve = ["-m", "eureka_embed", "serve", "--port", "0", "--store", "memory://"]
    with contextlib.ExitStack() as stack:
        servers = {
            "uvicorn": stack.enter_context(server_process([*serve, "--server", "uvicorn"])),
            "waitress": stack.enter_context(server_process([*serve, "--server", "waitress"])),
            "bare": stack.enter_context(
                server_process([str(Path(__file__).resolve()), "--bare-asgi-server"])
            ),
            # Room for the idle connections and wrk's: past the limit wrk would get 503s.
            "idle": stack.enter_context(
                server_process(
                    [*serve, "--server", "uvicorn", "--connection-limit", str(args.idle + 100)]
                )
            ),
        }
        for name in ("uvicorn", "waitress", "idle"):
            register_over_http(servers[name], args.instances)
        held = stack.enter_context(idle_connections(servers["idle"], args.idle))
        for url in servers.values():  # warm-up
            run_wrk(url, 2, args.instances)
        runs = interleaved(
            {
                name: functools.partial(run_wrk, url, args.seconds, args.instances)
                for name, url in servers.items()
            },
            args.rounds,
        )
    heading(f"heartbeats: wrk, 16 connections, {args.seconds:g} s a round", args.rounds)
    rates = {name: [r.rate for r in found] for name, found in runs.items()}
    labels = {
        "uvicorn": "serve --server uvicorn",
        "waitress": "serve --server waitress",
        "bare": "bare Falcon ASGI PUT on UvicornServer",
        "idle": f"serve --server uvicorn, {held} idle connections open",
    }
    for name, label in labels.items():
        row(f"{label}, req/s", Spread.of(rates[name]).show())
        row(f"{label}, p99 ms", Spread.of(r.p99_us / 1000 for r in runs[name]).show(".1f"))
    checks = (
        ("uvicorn / bare ASGI", "uvicorn", "bare", 0.85),
        ("uvicorn / waitress", "uvicorn", "waitress", 2.5),
        ("idle connections open / none", "idle", "uvicorn", 0.9),
    )
    for label, subject, baseline, goal in checks:
        against = ratio(rates[subject], rates[baseline])
        row(label, against.show(".2f"), target(f">= {goal:g}", against.median >= goal))
    failed = {name: sum(r.non_2xx + r.socket_errors for r in found) for name, found in runs.items()}
    row("non-2xx + socket errors, all rounds", ", ".join(f"{n} {c}" for n, c in failed.items()))


if __name__ == "__main__":
    main()
