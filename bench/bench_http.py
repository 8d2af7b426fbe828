"""HTTP benchmarks of the standalone server: heartbeat throughput, and registry fetches.

Run: ``python bench/bench_http.py`` (about two minutes). Prints figures; it is not a timed test.
Every figure is the median (min-max) of interleaved rounds (``bench/rounds.py``).

(a) **Renew throughput over loopback.** wrk (Debian package ``wrk``) sends heartbeats (PUT
    ``apps/{APP}/{id}?status=UP&lastDirtyTimestamp=...``, ``bench/wrk/renew.lua``) spread over
    many registered instances, on 16 connections, to ``eureka-embed serve`` in a subprocess
    (memory store, and SQLite file). In the same rounds, the same load goes to the baseline: a
    minimal Falcon app (one PUT route answering 200 with no body) served by the same server
    code with the same waitress settings. The ratio is taken within each round. Targets:
    ours / minimal >= 0.85; p99 latency < 15 ms.
(b) **Registry reads with 10k instances**, in-process through the WSGI app (falcon.testing) and
    over HTTP (keep-alive, loopback): the cached gzipped full registry (p50 < 2 ms), the full
    registry rebuilt after a change (<= 40 ms), a delta of 100 changes (p50 < 1 ms). Each round
    takes the p50 of a batch of reads of each kind. The baseline of a cached read: a bare Falcon
    route answering the same gzipped bytes, through the same falcon.testing client.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a source tree
    sys.path.insert(0, str(ROOT))

from bench.rounds import (  # noqa: E402
    Spread,
    heading,
    interleaved,
    median_time,
    ratio,
    rounds_argument,
    row,
    target,
)
from eureka_embed.clock import ManualClock  # noqa: E402
from eureka_embed.model import InstanceInfo, LeaseInfo, PortInfo  # noqa: E402
from eureka_embed.registry import Registry  # noqa: E402

LUA = ROOT / "bench" / "wrk" / "renew.lua"
READY = re.compile(r"eureka-embed serving on (http://\S+)")
CONNECTIONS = 16
APPS = 50
DIRTY_BASE = 1_000_000_000_000  # renew.lua derives the same lastDirtyTimestamp per instance


def instance(n: int, apps: int = APPS, *, dirty: int | None = None) -> InstanceInfo:
    """Instance ``n``, named as renew.lua names it."""
    app = n % apps
    return InstanceInfo(
        instance_id=f"host{n}:app{app}:8080",
        app=f"APP{app}",
        host_name=f"host{n}",
        ip_addr=f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
        port=PortInfo(8080, True),
        vip_address=f"app{app}",
        lease_info=LeaseInfo(),
        metadata={"zone": "zone-a"},
        home_page_url=f"http://host{n}:8080/",
        status_page_url=f"http://host{n}:8080/info",
        health_check_url=f"http://host{n}:8080/health",
        last_dirty_timestamp=DIRTY_BASE + n if dirty is None else dirty,
    )


def registration(n: int) -> bytes:
    app = n % APPS
    return json.dumps(
        {
            "instance": {
                "instanceId": f"host{n}:app{app}:8080",
                "hostName": f"host{n}",
                "app": f"APP{app}",
                "ipAddr": f"10.0.{n // 256 % 256}.{n % 256}",
                "status": "UP",
                "port": {"$": 8080, "@enabled": "true"},
                "vipAddress": f"app{app}",
                "dataCenterInfo": {
                    "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
                    "name": "MyOwn",
                },
                "lastDirtyTimestamp": str(DIRTY_BASE + n),
            }
        }
    ).encode()


# ---------------------------------------------------------------------- (a) wrk


@contextmanager
def server_process(args: list[str]) -> Iterator[str]:
    """A server child process started with ``args``; yields its root URL once it is ready."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EUREKA_EMBED_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with tempfile.TemporaryFile("w+") as log:
        child = subprocess.Popen(
            [sys.executable, *args], stdout=subprocess.DEVNULL, stderr=log, text=True, env=env
        )
        try:
            deadline = time.monotonic() + 20
            while (match := READY.search(_read_all(log))) is None:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start:\n{_read_all(log)}")
                time.sleep(0.05)
            yield match.group(1).removesuffix("/eureka/")
        finally:
            child.terminate()
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)


def _read_all(log: object) -> str:
    assert hasattr(log, "seek") and hasattr(log, "read")
    log.seek(0)
    text: str = log.read()
    return text


def register_over_http(root_url: str, instances: int) -> None:
    host, port = root_url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        for n in range(instances):
            conn.request(
                "POST",
                f"/eureka/apps/APP{n % APPS}",
                body=registration(n),
                headers={"Content-Type": "application/json"},
            )
            answer = conn.getresponse()
            answer.read()
            if answer.status != 204:
                raise RuntimeError(f"registration {n} answered {answer.status}")
    finally:
        conn.close()


@dataclass(frozen=True)
class WrkRun:
    requests: int
    duration_us: int
    non_2xx: int
    socket_errors: int
    p50_us: int
    p99_us: int

    @property
    def rate(self) -> float:
        return self.requests / (self.duration_us / 1e6)


def run_wrk(root_url: str, seconds: float, instances: int) -> WrkRun:
    done = subprocess.run(
        [
            "wrk",
            f"-t{min(os.cpu_count() or 2, 4)}",
            f"-c{CONNECTIONS}",
            f"-d{seconds:g}s",
            "--latency",
            "-s",
            str(LUA),
            root_url,
            "--",
            str(instances),
            str(APPS),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    line = next(x for x in reversed(done.stdout.splitlines()) if x.startswith("{"))
    data = json.loads(line)
    return WrkRun(
        data["requests"],
        data["duration_us"],
        data["non_2xx"],
        data["socket_errors"],
        data["p50_us"],
        data["p99_us"],
    )


def bench_renew(instances: int, seconds: float, rounds: int) -> None:
    if shutil.which("wrk") is None:
        print("renew throughput: skipped, wrk is not installed (apt-get install -y wrk)")
        return
    serve = ["-m", "eureka_embed", "serve", "--port", "0"]
    minimal_cmd = [str(Path(__file__).resolve()), "--minimal-server"]
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        servers = {
            "memory": stack.enter_context(server_process([*serve, "--store", "memory://"])),
            "sqlite": stack.enter_context(
                server_process([*serve, "--store", f"sqlite:///{Path(tmp) / 'bench.db'}"])
            ),
            "minimal": stack.enter_context(server_process(minimal_cmd)),
        }
        for name in ("memory", "sqlite"):
            register_over_http(servers[name], instances)
        for url in servers.values():  # warm-up: connections, caches, branch predictors
            run_wrk(url, 2, instances)
        runs = interleaved(
            {
                name: functools.partial(run_wrk, url, seconds, instances)
                for name, url in servers.items()
            },
            rounds,
        )
    heading(
        f"renew throughput: wrk, {CONNECTIONS} connections, {instances} instances, "
        f"{seconds:g} s a round",
        rounds,
    )
    labels = {
        "memory": "eureka-embed, memory store",
        "sqlite": "eureka-embed, SQLite file",
        "minimal": "minimal Falcon app (baseline)",
    }
    rates = {name: [r.rate for r in results] for name, results in runs.items()}
    for name, label in labels.items():
        row(f"{label}, req/s", Spread.of(rates[name]).show())
    for name in ("memory", "sqlite"):
        against = ratio(rates[name], rates["minimal"])
        row(f"{name} / minimal", against.show(".2f"), target(">= 0.85", against.median >= 0.85))
    for name, label in labels.items():
        p99 = Spread.of(r.p99_us / 1000 for r in runs[name])
        goal = "" if name == "minimal" else target("< 15 ms", p99.median < 15)
        row(f"{label}, p50 ms", Spread.of(r.p50_us / 1000 for r in runs[name]).show(".2f"))
        row(f"{label}, p99 ms", p99.show(".1f"), goal)
    failed = {name: sum(r.non_2xx + r.socket_errors for r in found) for name, found in runs.items()}
    row("non-2xx + socket errors, all rounds", ", ".join(f"{n} {c}" for n, c in failed.items()))


def minimal_server() -> None:
    """The baseline: the same EurekaServer (code and waitress settings) with a one-route app."""
    import logging

    import falcon

    from eureka_embed.server import EurekaServer

    class Renew:
        def on_put(self, req: falcon.Request, resp: falcon.Response, app: str, iid: str) -> None:
            resp.status = falcon.HTTP_200

    app = falcon.App()
    app.add_route("/eureka/apps/{app}/{iid}", Renew())
    logging.basicConfig(level=logging.INFO)
    EurekaServer(app=app, maintenance=False).serve_forever()


# ---------------------------------------------------------------------- (b) reads


BARE = "bare Falcon route, same gzipped bytes (baseline)"


def constant_app(body: bytes) -> Any:
    """The baseline of a cached read: a Falcon app answering GET apps with fixed gzipped bytes."""
    import falcon

    class Constant:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.content_type = "application/json"
            resp.set_header("Content-Encoding", "gzip")
            resp.data = body

    app = falcon.App()
    app.add_route("/eureka/apps", Constant())
    return app


def bench_reads(instances: int, rounds: int) -> None:
    import falcon.testing

    from eureka_embed.server import EurekaServer
    from eureka_embed.wsgi import create_app

    clock = ManualClock()
    registry = Registry(clock=clock)
    for n in range(instances):
        registry.register(instance(n))
    client = falcon.testing.TestClient(create_app(registry))
    gzip_json = {"Accept": "application/json", "Accept-Encoding": "gzip"}
    gzip_xml = {"Accept-Encoding": "gzip"}  # no Accept: XML, as py_eureka_client asks

    def get(path: str, headers: dict[str, str]) -> Callable[[], bytes]:
        def call() -> bytes:
            result = client.simulate_get(path, headers=headers)
            assert result.status_code == 200, result.status
            return result.content

        return call

    full, delta = get("/eureka/apps/", gzip_json), get("/eureka/apps/delta", gzip_json)
    gzipped = full()
    size = len(gzipped)
    bare = falcon.testing.TestClient(constant_app(gzipped))

    def bare_read() -> None:
        assert bare.simulate_get("/eureka/apps", headers=gzip_json).status_code == 200

    plain_size = len(get("/eureka/apps/", {"Accept": "application/json"})())
    dirty = iter(range(2 * DIRTY_BASE, 3 * DIRTY_BASE))

    def change() -> None:
        registry.register(instance(7, dirty=next(dirty)))

    def fresh_delta() -> None:
        """A delta of exactly 100 changes: what came before ages out of the window first."""
        clock.advance(seconds=registry.config.delta_retention_ms / 1000 + 1)
        registry.prune_changes()
        for n in range(100):
            registry.register(instance(n, dirty=next(dirty)))

    fresh_delta()
    changed = client.simulate_get("/eureka/apps/delta", headers={"Accept": "application/json"})
    delta_count = sum(len(a["instance"]) for a in changed.json["applications"]["application"])
    assert delta_count == 100, delta_count

    def cached(read: Callable[[], object], prepare: Callable[[], None] = lambda: None) -> float:
        prepare()
        read()  # build and cache it; then time reads of the cached payload
        return median_time(read, 60)

    def rebuilt(read: Callable[[], bytes]) -> float:
        def change_and_read() -> None:
            change()
            read()

        # A change takes microseconds; the rebuild of a 10k registry, tens of milliseconds.
        return median_time(change_and_read, 3)

    def first_delta_read() -> float:
        fresh_delta()
        return median_time(delta)

    with EurekaServer(registry, maintenance=False) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)

        def over_http(path: str) -> Callable[[], None]:
            def call() -> None:
                conn.request("GET", path, headers=gzip_json)
                answer = conn.getresponse()
                answer.read()
                assert answer.status == 200

            return call

        read_full, read_delta = over_http("/eureka/apps/"), over_http("/eureka/apps/delta")

        def under(limit_ms: float) -> Callable[[float], bool]:
            return lambda seconds: seconds * 1000 < limit_ms

        def at_most(limit_ms: float) -> Callable[[float], bool]:
            return lambda seconds: seconds * 1000 <= limit_ms

        xml = get("/eureka/apps/", gzip_xml)
        # label: (one round's p50, target, whether a p50 meets it)
        kinds: dict[str, tuple[Callable[[], float], str, Callable[[float], bool] | None]] = {
            "full, cached, JSON gzip (WSGI)": (lambda: cached(full), "< 2 ms", under(2)),
            BARE: (lambda: cached(bare_read), "", None),
            "full, cached, JSON gzip (HTTP)": (lambda: cached(read_full), "", None),
            "full, rebuilt after a change, JSON gzip": (
                lambda: rebuilt(full),
                "<= 40 ms",
                at_most(40),
            ),
            "full, rebuilt after a change, XML gzip": (lambda: rebuilt(xml), "", None),
            "delta of 100 changes, first read (built)": (first_delta_read, "", None),
            "delta of 100 changes, cached (WSGI)": (
                lambda: cached(delta, fresh_delta),
                "< 1 ms",
                under(1),
            ),
            "delta of 100 changes, cached (HTTP)": (
                lambda: cached(read_delta, fresh_delta),
                "",
                None,
            ),
        }
        p50s = interleaved({label: kind[0] for label, kind in kinds.items()}, rounds)
        conn.close()
    registry.close()

    heading(
        f"registry reads: {instances:,} instances; full registry as JSON "
        f"{plain_size / 2**20:,.1f} MiB, gzipped {size / 1024:,.0f} KiB; p50 ms of each round",
        rounds,
    )
    for label, (_, goal, meets) in kinds.items():
        p50 = Spread.of(p50s[label])
        row(
            label,
            p50.show(".3f", scale=1000),
            "" if meets is None else target(goal, meets(p50.median)),
        )
    cached_vs_bare = ratio(p50s["full, cached, JSON gzip (WSGI)"], p50s[BARE])
    row("full, cached (WSGI) / bare route (baseline)", cached_vs_bare.show(".2f"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=1000, help="registered for wrk")
    parser.add_argument("--seconds", type=float, default=4.0, help="per wrk round")
    rounds_argument(parser)
    parser.add_argument("--read-instances", type=int, default=10_000)
    parser.add_argument("--skip-wrk", action="store_true")
    parser.add_argument("--skip-reads", action="store_true")
    parser.add_argument("--minimal-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.minimal_server:
        minimal_server()
        return
    if not args.skip_wrk:
        bench_renew(args.instances, args.seconds, args.rounds)
    if not args.skip_reads:
        bench_reads(args.read_instances, args.rounds)


if __name__ == "__main__":
    main()
