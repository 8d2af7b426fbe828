"""HTTP benchmarks of the standalone server: heartbeat throughput, and registry fetches.

Run: ``python bench/bench_http.py`` (about 45 s). Prints figures; it is not a timed test.

(a) **Renew throughput over loopback.** wrk (Debian package ``wrk``) sends heartbeats (PUT
    ``apps/{APP}/{id}?status=UP&lastDirtyTimestamp=...``, ``bench/wrk/renew.lua``) spread over
    many registered instances, on 16 connections, to ``eureka-embed serve`` in a subprocess. In
    the same run, and interleaved with it, the same load goes to a minimal Falcon app (one PUT
    route answering 200 with no body) served by the same server code with the same waitress
    settings. Targets: ours / minimal >= 0.85; p99 latency < 15 ms.
(b) **Registry reads with 10k instances**, in-process through the WSGI app (falcon.testing) and
    over HTTP (keep-alive, loopback): the cached gzipped full registry (p50 < 2 ms), the full
    registry rebuilt after a change (<= 40 ms), a delta of 100 changes (p50 < 1 ms).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a source tree
    sys.path.insert(0, str(ROOT))

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


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f} ms"


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
        results: dict[str, list[WrkRun]] = {name: [] for name in servers}
        for _ in range(rounds):  # interleaved: all see the same machine noise
            for name, url in servers.items():
                results[name].append(run_wrk(url, seconds, instances))
    best = {name: max(runs, key=lambda r: r.rate) for name, runs in results.items()}
    print(
        f"renew throughput: wrk, {CONNECTIONS} connections, {instances} instances, "
        f"best of {rounds} x {seconds:g} s"
    )
    print(f"  {'':26}{'req/s':>10}{'p50':>12}{'p99':>12}{'non-2xx':>9}{'errors':>8}")
    labels = {
        "memory": "eureka-embed, memory store",
        "sqlite": "eureka-embed, SQLite file",
        "minimal": "minimal Falcon app",
    }
    for name, label in labels.items():
        r = best[name]
        print(
            f"  {label:26}{r.rate:10,.0f}{ms(r.p50_us / 1e6):>12}{ms(r.p99_us / 1e6):>12}"
            f"{r.non_2xx:9d}{r.socket_errors:8d}"
        )
    for name in ("memory", "sqlite"):
        ratio = best[name].rate / best["minimal"].rate
        print(f"  ratio {name}/minimal{'':11}{ratio:6.2f}   (target >= 0.85)")
        print(f"  p99 {name}{'':20}{ms(best[name].p99_us / 1e6)}  (target < 15 ms)")


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


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def bench_reads(instances: int) -> None:
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

    full = get("/eureka/apps/", gzip_json)
    size = len(full())
    plain_size = len(get("/eureka/apps/", {"Accept": "application/json"})())
    cached = timed(full, 300)

    dirty = iter(range(2 * DIRTY_BASE, 3 * DIRTY_BASE))

    def change() -> None:
        registry.register(instance(7, dirty=next(dirty)))

    def rebuilt(read: Callable[[], bytes]) -> list[float]:
        times = []
        for _ in range(15):
            change()
            times.extend(timed(read, 1))
        return times

    rebuild_json = rebuilt(full)
    rebuild_xml = rebuilt(get("/eureka/apps/", gzip_xml))

    # A delta of exactly 100 changes: let the registrations age out of the window first.
    clock.advance(seconds=registry.config.delta_retention_ms / 1000 + 1)
    registry.prune_changes()
    for n in range(100):
        registry.register(instance(n, dirty=next(dirty)))
    delta = get("/eureka/apps/delta", gzip_json)
    delta_built = timed(delta, 1)
    delta_cached = timed(delta, 300)
    changed = client.simulate_get("/eureka/apps/delta", headers={"Accept": "application/json"})
    delta_count = sum(len(a["instance"]) for a in changed.json["applications"]["application"])
    assert delta_count == 100, delta_count

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
        read_full()  # the 100 changes above made the cached full registry stale: rebuild it
        http_full = timed(read_full, 300)
        http_delta = timed(read_delta, 300)
        conn.close()
    registry.close()

    print(
        f"registry reads: {instances:,} instances; full registry as JSON "
        f"{plain_size / 2**20:,.1f} MiB, gzipped {size / 1024:,.0f} KiB"
    )
    print(f"  {'':42}{'p50':>12}{'max':>12}   target")
    rows = [
        ("full, cached, JSON gzip (WSGI)", cached, "p50 < 2 ms"),
        ("full, cached, JSON gzip (HTTP)", http_full, ""),
        ("full, rebuilt after a change, JSON gzip", rebuild_json, "<= 40 ms"),
        ("full, rebuilt after a change, XML gzip", rebuild_xml, ""),
        ("delta of 100 changes, first read (built)", delta_built, ""),
        ("delta of 100 changes, cached (WSGI)", delta_cached, "p50 < 1 ms"),
        ("delta of 100 changes, cached (HTTP)", http_delta, ""),
    ]
    for label, times, target in rows:
        print(f"  {label:42}{ms(statistics.median(times)):>12}{ms(max(times)):>12}   {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=1000, help="registered for wrk")
    parser.add_argument("--seconds", type=float, default=4.0, help="per wrk round")
    parser.add_argument("--rounds", type=int, default=3)
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
        bench_reads(args.read_instances)


if __name__ == "__main__":
    main()
