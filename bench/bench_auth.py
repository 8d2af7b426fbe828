"""Heartbeats with ``serve --auth`` (a ``register`` user, HTTP Basic) against the same server
without it, on waitress and on uvicorn.

Run: ``python bench/bench_auth.py`` (about a minute; needs wrk and the ``asgi`` extra).
Every figure is the median (min-max) of interleaved rounds (``bench/rounds.py``); ratios are
taken within each round, against the server of the same kind without ``--auth``. wrk sends the
heartbeats of ``bench_http.py`` (``bench/wrk/renew.lua``) on 16 connections, each with the
user's ``Authorization`` header; the password hash has the default scrypt cost, so only the
verified-credential cache keeps the KDF off the heartbeat path.

Target (issue 13): with --auth / without >= 0.9, on each server.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import http.client
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a source tree
    sys.path.insert(0, str(ROOT))

from bench.bench_http import register_over_http, run_wrk, server_process  # noqa: E402
from bench.rounds import Spread, heading, interleaved, ratio, rounds_argument, row, target  # noqa: E402
from eureka_embed.auth import hash_password  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=4.0, help="per wrk round")
    parser.add_argument("--servers", default="waitress,uvicorn")
    rounds_argument(parser)
    args = parser.parse_args()
    kinds = [kind.strip() for kind in args.servers.split(",") if kind.strip()]
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
        label = f"serve --server {name.replace('+auth', ' --auth')}"
        row(f"{label}, req/s", Spread.of(rates[name]).show())
        row(f"{label}, p99 ms", Spread.of(r.p99_us / 1000 for r in runs[name]).show(".1f"))
    for kind in kinds:
        against = ratio(rates[f"{kind}+auth"], rates[kind])
        row(
            f"{kind}: --auth / without",
            against.show(".2f"),
            target(">= 0.9", against.median >= 0.9),
        )
    failed = {name: sum(r.non_2xx + r.socket_errors for r in found) for name, found in runs.items()}
    row("non-2xx + socket errors, all rounds", ", ".join(f"{n} {c}" for n, c in failed.items()))


if __name__ == "__main__":
    main()
