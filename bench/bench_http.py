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
(c) **Scaling** (``--scaling [N ...]``; 1k, 10k, 50k, 100k by default, each size in a fresh
    process): the full JSON gzip answer rebuilt after one change (<= 150 ms at 100k) and a
    delta of 100 changes (<= 5 ms at 100k), in-process through RegistryPayloads; baseline in
    the same rounds: the same answers encoded and gzipped from scratch. Printed with the growth
    exponent (slope of log time over log n).
(d) **Deploy storm** (``--storm``; ``--storm-scale 0.1 --settle 30`` for a quick run): a fleet
    of 20k heartbeating instances (667/s) replaced by 20k fresh registrations within the 3-minute
    delta window, 200 readers fetching the gzipped delta every 30 s. Heartbeat p99 during the
    storm (<= 15 ms) and the server's RSS ``--settle`` seconds after it (300 by default) over
    its RSS before (<= 1.3x). A storm is one long scenario, not a round: ``--storm-runs N``
    repeats it against a fresh server each time and reports the median (min-max) over runs.
(e) **The storm's delta rebuild, in-process** (``--storm-rebuild``): the gzipped JSON delta
    rebuilt after 32 changes with 20k changes in the window, against grouping, encoding and
    gzipping it from scratch in the same rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import itertools
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
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
    with server_child(args) as (url, _pid):
        yield url


@contextmanager
def server_child(args: list[str]) -> Iterator[tuple[str, int]]:
    """:func:`server_process`, yielding the child's process id beside its root URL."""
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
            yield match.group(1).removesuffix("/eureka/"), child.pid
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


def register_over_http(
    root_url: str, instances: int, headers: Mapping[str, str] | None = None
) -> None:
    host, port = root_url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        for n in range(instances):
            conn.request(
                "POST",
                f"/eureka/apps/APP{n % APPS}",
                body=registration(n),
                headers={"Content-Type": "application/json", **(headers or {})},
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


def run_wrk(
    root_url: str, seconds: float, instances: int, headers: Mapping[str, str] | None = None
) -> WrkRun:
    """wrk's heartbeats; ``headers`` go on every request (wrk.format sends wrk.headers)."""
    extra = [f"-H{name}: {value}" for name, value in (headers or {}).items()]
    done = subprocess.run(
        [
            "wrk",
            f"-t{min(os.cpu_count() or 2, 4)}",
            f"-c{CONNECTIONS}",
            f"-d{seconds:g}s",
            *extra,
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


# ---------------------------------------------------------------------- (d) deploy storm


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class _Paced:
    """Calls ``work`` on ``threads`` threads at ``rate`` calls/s in all; records latencies."""

    def __init__(self, rate: float, threads: int, work: Callable[[Any, int], None]) -> None:
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(k, threads, rate / threads, work), daemon=True)
            for k in range(threads)
        ]

    def _run(self, k: int, of: int, rate: float, work: Callable[[Any, int], None]) -> None:
        conn = http.client.HTTPConnection(*_host_port(), timeout=30)
        interval = 1 / rate
        due = time.monotonic()
        n = k
        while not self._stop.is_set():
            start = time.monotonic()
            work(conn, n)
            self.latencies.append(time.monotonic() - start)
            n += of
            due += interval
            delay = due - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                due = time.monotonic()  # behind: do not burst to catch up
        conn.close()

    def __enter__(self) -> _Paced:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def take(self) -> list[float]:
        taken, self.latencies = self.latencies, []
        return taken


_STORM_TARGET: dict[str, str] = {}


def _host_port() -> tuple[str, int]:
    host, port = _STORM_TARGET["url"].removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _call(
    conn: Any,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> int:
    conn.request(method, path, body=body, headers=headers or {})
    answer = conn.getresponse()
    answer.read()
    status: int = answer.status
    return status


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("nan")


def storm_shape(scale: float) -> tuple[int, float, float, int]:
    """The storm at ``scale``: fleet size, window (s), heartbeats/s and delta readers."""
    fleet = int(20_000 * scale)
    return fleet, 180 * scale, fleet / 30, max(1, int(200 * scale))


def storm_run(scale: float, settle: float, store: str) -> dict[str, float]:
    """One deploy storm against a fresh server: a fleet replaced by fresh registrations inside
    the delta window; its figures (seconds, MiB, ratio).

    The fleet (20k instances at scale 1) heartbeats at 667/s (every 30 s); 200 readers fetch
    the gzipped JSON delta every 30 s. The storm registers 20k new instances and cancels the
    20k old ones over 3 minutes; heartbeats follow the live set. RSS is read before the
    storm, right after it and ``settle`` seconds later (5 minutes by default: the storm's
    changes have left the 3-minute delta window by then).
    """
    fleet, window, beats, readers = storm_shape(scale)
    live = {"low": 0}  # instances low .. low+fleet are registered
    serve = ["-m", "eureka_embed", "serve", "--port", "0", "--store", store]
    with server_child(serve) as (url, pid):
        _STORM_TARGET["url"] = url
        register_over_http(url, fleet)

        def beat(conn: Any, n: int) -> None:
            k = live["low"] + n % fleet
            _call(conn, "PUT", f"/eureka/apps/APP{k % APPS}/host{k}:app{k % APPS}:8080?status=UP")

        def read(conn: Any, n: int) -> None:
            _call(
                conn,
                "GET",
                "/eureka/apps/delta",
                headers={"Accept": "application/json", "Accept-Encoding": "gzip"},
            )

        with _Paced(beats, 8, beat) as beating, _Paced(readers / 30, 2, read) as reading:
            time.sleep(min(30.0, window))
            steady_beats = beating.take()
            reading.take()
            before = rss_mib(pid)
            conn = http.client.HTTPConnection(*_host_port(), timeout=30)
            start = time.monotonic()
            for i in range(fleet):
                new, old = fleet + i, i
                status = _call(
                    conn,
                    "POST",
                    f"/eureka/apps/APP{new % APPS}",
                    registration(new),
                    headers={"Content-Type": "application/json"},
                )
                assert status == 204, status
                _call(
                    conn, "DELETE", f"/eureka/apps/APP{old % APPS}/host{old}:app{old % APPS}:8080"
                )
                live["low"] = i + 1
                due = start + window * (i + 1) / fleet
                if (delay := due - time.monotonic()) > 0:
                    time.sleep(delay)
            conn.close()
            storm_beats, storm_reads = beating.take(), reading.take()
            after = rss_mib(pid)
            time.sleep(settle)
            settled = rss_mib(pid)
            settle_beats = beating.take()
    return {
        "p99 before": p99(steady_beats),
        "p99 during": p99(storm_beats),
        "p99 after": p99(settle_beats),
        "delta p99 during": p99(storm_reads),
        "rss before": before,
        "rss after": after,
        "rss settled": settled,
        "rss ratio": settled / before,
    }


#: ``--storm-store`` for a new SQLite file in a temporary directory for each run.
FRESH_SQLITE = "sqlite-file"


@contextmanager
def _store_of_a_run(store: str) -> Iterator[str]:
    """``store``, or for :data:`FRESH_SQLITE` a new SQLite file (as serve's default) per run."""
    if store != FRESH_SQLITE:
        yield store
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'registry.db'}"


def bench_storm(scale: float, settle: float, store: str, runs: int) -> None:
    """``runs`` deploy storms one after the other, each against a fresh server (``--storm``,
    ``--storm-runs``); every row the median (min-max) over the runs."""
    results = []
    for _ in range(runs):
        with _store_of_a_run(store) as url:
            results.append(storm_run(scale, settle, url))
    figures = {name: Spread.of(r[name] for r in results) for name in results[0]}
    fleet, window, beats, readers = storm_shape(scale)
    kind = "sqlite" if store == FRESH_SQLITE else store.split(":", maxsplit=1)[0]
    print(
        f"deploy storm ({kind}): fleet {fleet:,} replaced in {window:.0f} s, "
        f"{beats:.0f} heartbeats/s, {readers} delta readers every 30 s, "
        f"settle {settle:.0f} s: median (min-max) of {runs} runs, a fresh server each"
    )
    ms = functools.partial(Spread.show, fmt=".1f", scale=1000, unit="ms")
    row("heartbeat p99 before the storm", ms(figures["p99 before"]))
    hb = figures["p99 during"]
    row("heartbeat p99 during the storm", ms(hb), target("<= 15 ms", hb.median <= 0.015))
    row("heartbeat p99 after the storm", ms(figures["p99 after"]))
    row("delta read p99 during the storm", ms(figures["delta p99 during"]))
    for name, label in (
        ("rss before", "before"),
        ("rss after", "right after"),
        ("rss settled", "settled"),
    ):
        row(f"RSS {label}", figures[name].show(".0f", unit="MiB"))
    grown = figures["rss ratio"]
    row("RSS settled / before", grown.show(".2f"), target("<= 1.3x", grown.median <= 1.3))


def bench_storm_rebuild(rounds: int) -> None:
    """The delta rebuilt in the middle of a deploy storm, in-process: what each delta read
    after a change costs the server while a fleet is replaced (``--storm-rebuild``).

    20k instances registered outside the window, then 10k of them replaced (a registration
    and a cancel each) inside it: 20k changes in the window. Each round makes 32 more changes
    (what 222 changes/s bring between two of the storm's delta reads) and builds the gzipped
    JSON delta through RegistryPayloads; the baseline, in the same rounds, groups the window
    from the log and encodes and gzips it from scratch.
    """
    from eureka_embed.codec import WireFormat, encode_applications
    from eureka_embed.http.negotiation import Variant, gzip_bytes
    from eureka_embed.http.payload_cache import PayloadCache
    from eureka_embed.http.payloads import RegistryPayloads
    from eureka_embed.model import Applications

    fleet = 20_000
    clock = ManualClock()
    registry = Registry(clock=clock)
    for n in range(fleet):
        registry.register(instance(n))
    clock.advance(ms=registry.config.delta_retention_ms + 1000)
    payloads = RegistryPayloads(registry, PayloadCache())
    variant = Variant(WireFormat.JSON, compact=False, gzip=True)
    replaced = itertools.count()

    def storm(changes: int) -> None:
        for _ in range(changes // 2):
            old = next(replaced)
            registry.register(instance(fleet + old))
            registry.cancel(f"APP{old % APPS}", f"host{old}:app{old % APPS}:8080")
        clock.advance(ms=5)

    for _ in range(fleet // 2 // 16):
        storm(32)
    payloads.delta(variant)
    since = clock.now_ms() - registry.config.delta_retention_ms

    def scratch() -> bytes:
        snapshot = registry.store.delta_snapshot(since)
        latest = {change.key: change.instance for change in snapshot.changes}
        delta = Applications.of(
            latest.values(), version=str(snapshot.sequence), hashcode=snapshot.apps_hashcode
        )
        return gzip_bytes(encode_applications(delta, WireFormat.JSON))

    def timed(call: Callable[[], object]) -> Callable[[], float]:
        def subject() -> float:
            storm(32)
            return median_time(call)

        return subject

    results = interleaved(
        {"ours": timed(lambda: payloads.delta(variant)), "base": timed(scratch)}, rounds
    )
    heading("delta rebuilt in a deploy storm (20k changes in the window, 32 new), ms", rounds)
    ours, base = Spread.of(results["ours"]), Spread.of(results["base"])
    row("gzipped JSON delta, assembled", ours.show(",.1f", scale=1000))
    row("  baseline: grouped, encoded and gzipped from scratch", base.show(",.1f", scale=1000))
    row("assembled / from scratch", ratio(results["ours"], results["base"]).show(".3f"))


SCALING_SIZES = (1_000, 10_000, 50_000, 100_000)
FULL_GZIP = "full JSON gzip after one change"
FULL_GZIP_BASE = "  baseline: encoded and gzipped from scratch"
DELTA = "delta of 100 changes, JSON gzip"
DELTA_BASE = "  baseline: delta encoded and gzipped from scratch"


def scaling_point(instances: int, rounds: int) -> dict[str, list[float]]:
    """One size of the scaling table, in this process: seconds per round of each subject."""
    from eureka_embed.codec import WireFormat, encode_applications
    from eureka_embed.http.negotiation import Variant, gzip_bytes
    from eureka_embed.http.payload_cache import PayloadCache
    from eureka_embed.http.payloads import RegistryPayloads
    from eureka_embed.model import InstanceStatus

    clock = ManualClock()
    registry = Registry(clock=clock)
    for n in range(instances):
        registry.register(instance(n))
    # The registrations leave the delta window: the delta holds only the changes below.
    clock.advance(ms=registry.config.delta_retention_ms + 1000)
    payloads = RegistryPayloads(registry, PayloadCache())
    variant = Variant(WireFormat.JSON, compact=False, gzip=True)
    statuses = itertools.cycle([InstanceStatus.OUT_OF_SERVICE, InstanceStatus.UP])
    # 100 instances changed inside the delta window; each round changes one of them again, so
    # the sequence moves (a rebuild) and the delta still holds 100 entries.
    changed = [instance(n) for n in range(0, instances, max(1, instances // 100))][:100]
    for one in changed:
        registry.update_status(one.app, one.instance_id, InstanceStatus.UP)
    picks = itertools.cycle(changed)

    def change() -> None:
        one = next(picks)
        registry.update_status(one.app, one.instance_id, next(statuses))

    def timed(call: Callable[[], object]) -> Callable[[], float]:
        def subject() -> float:
            change()
            return median_time(call)

        return subject

    payloads.full(variant), payloads.delta(variant)  # warm: the steady state between changes
    subjects = {
        FULL_GZIP: timed(lambda: payloads.full(variant)),
        FULL_GZIP_BASE: timed(
            lambda: gzip_bytes(encode_applications(registry.get_applications(), WireFormat.JSON))
        ),
        DELTA: timed(lambda: payloads.delta(variant)),
        DELTA_BASE: timed(
            lambda: gzip_bytes(encode_applications(registry.get_delta(), WireFormat.JSON))
        ),
    }
    return interleaved(subjects, rounds)


def growth_exponent(sizes: list[int], medians: list[float]) -> float:
    """The slope of log(time) over log(n), least squares: 1.0 is linear growth."""
    xs = [math.log(n) for n in sizes]
    ys = [math.log(t) for t in medians]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def bench_scaling(sizes: list[int], rounds: int) -> None:
    """Each size in a fresh process (so no size inherits another's heap), then one table."""
    points: dict[int, dict[str, list[float]]] = {}
    for size in sizes:
        done = subprocess.run(
            [sys.executable, __file__, "--scaling-point", str(size), "--rounds", str(rounds)],
            check=True,
            capture_output=True,
            text=True,
        )
        points[size] = json.loads(done.stdout.strip().splitlines()[-1])
    heading(f"scaling ({', '.join(f'{n:,}' for n in sizes)} instances, {APPS} apps), ms", rounds)
    targets = {FULL_GZIP: 0.150, DELTA: 0.005}
    for name in (FULL_GZIP, FULL_GZIP_BASE, DELTA, DELTA_BASE):
        spreads = [Spread.of(points[n][name]) for n in sizes]
        cells = " | ".join(s.show(",.1f", scale=1000) for s in spreads)
        exponent = growth_exponent(sizes, [s.median for s in spreads]) if len(sizes) > 1 else 0
        goal = targets.get(name)
        judged = ""
        if goal is not None and sizes[-1] == 100_000:
            judged = target(f"<= {goal * 1000:g} ms at 100k", spreads[-1].median <= goal)
        print(f"  {name}: {cells}  (n^{exponent:.2f}) {judged}".rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=1000, help="registered for wrk")
    parser.add_argument("--seconds", type=float, default=4.0, help="per wrk round")
    rounds_argument(parser)
    parser.add_argument("--read-instances", type=int, default=10_000)
    parser.add_argument("--skip-wrk", action="store_true")
    parser.add_argument("--skip-reads", action="store_true")
    parser.add_argument(
        "--scaling",
        nargs="*",
        type=int,
        metavar="N",
        help=f"only the scaling table, at these sizes (default {SCALING_SIZES})",
    )
    parser.add_argument("--scaling-point", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--storm", action="store_true", help="only the deploy-storm bench")
    parser.add_argument(
        "--storm-scale", type=float, default=1.0, help="fleet, window and readers times this"
    )
    parser.add_argument("--settle", type=float, default=300.0, help="seconds after the storm")
    parser.add_argument(
        "--storm-store",
        default="memory://",
        help=f"a store URL, or {FRESH_SQLITE!r}: a new SQLite file for each run",
    )
    parser.add_argument(
        "--storm-runs", type=int, default=1, help="storms in a row (fresh server each)"
    )
    parser.add_argument(
        "--storm-rebuild", action="store_true", help="only the in-process storm delta rebuild"
    )
    parser.add_argument("--minimal-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.minimal_server:
        minimal_server()
        return
    if args.scaling_point is not None:
        print(json.dumps(scaling_point(args.scaling_point, args.rounds)))
        return
    if args.storm_rebuild:
        bench_storm_rebuild(args.rounds)
        return
    if args.storm:
        if args.storm_runs < 1:
            parser.error("--storm-runs must be 1 or more")
        bench_storm(args.storm_scale, args.settle, args.storm_store, args.storm_runs)
        return
    if args.scaling is not None:
        bench_scaling(args.scaling or list(SCALING_SIZES), args.rounds)
        return
    if not args.skip_wrk:
        bench_renew(args.instances, args.seconds, args.rounds)
    if not args.skip_reads:
        bench_reads(args.read_instances, args.rounds)


if __name__ == "__main__":
    main()
