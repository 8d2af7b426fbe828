"""Benchmarks of watches (issue 11): watchers held, their wake-up, and propagation to clients.

Run: ``python bench/bench_watch.py`` (several minutes; needs wrk and the ``asgi`` extra, and
PostgreSQL for the shared-database row). Prints figures; it is not a timed test. Every figure is
the median (min-max) of interleaved rounds (``bench/rounds.py``); a ratio is taken within each
round. Heartbeats on uvicorn against a bare ASGI app, waitress and idle connections are
``bench/bench_asgi.py``'s.

(b) **Watchers held** on ``serve --server uvicorn``: heartbeat throughput (wrk,
    ``bench/wrk/renew.lua``) with 5,000 watchers held on ``apps/{APP}?index=`` vs none
    (>= 0.8); then one registration wakes all 5,000, and the time from sending it to each
    watcher's answer is taken (p99 <= 100 ms).
    The floor, in the same rounds: a bare ASGI app on the same ``UvicornServer`` (uvicorn's
    configuration: uvloop, httptools) holds as many requests on one ``asyncio.Event`` and, once
    released, answers each with a fixed body of our answer's size and as many headers; its
    wake is measured the same way, and ours / bare is taken round by round.
(c) **Propagation**: a registration over HTTP until a watching ``DiscoveryClient`` in another
    process sees it (its refresh interval is 60 s, so only the watch explains a prompt sight):
    one node (p50 <= 10 ms, p99 <= 50 ms); two nodes over one PostgreSQL database, registering
    through one and watching the other (p50 <= 50 ms, p99 <= 150 ms); three replicating peers,
    registering through the first and watching the third (p50 <= 150 ms, p99 <= 300 ms).
    Both processes read ``time.monotonic()``, one clock system-wide on Linux.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import http.client
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple, cast

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a source tree
    sys.path.insert(0, str(ROOT))

from bench.bench_http import (  # noqa: E402
    register_over_http,
    registration,
    run_wrk,
    server_child,
    server_process,
)
from bench.rounds import Spread, heading, interleaved, ratio, rounds_argument, row, target  # noqa: E402

SERVE = ["-m", "eureka_embed", "serve", "--port", "0"]
WATCHED_APP = "WATCHED"


def raise_fd_limit() -> None:
    """10,000 sockets in one process need a soft limit above the usual 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def host_port(root_url: str) -> tuple[str, int]:
    host, port = root_url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def request(root_url: str, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, str]]:
    host, port = host_port(root_url)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        conn.request(method, path, body=body or None, headers=headers)
        answer = conn.getresponse()
        answer.read()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}
    finally:
        conn.close()


def index_of(root_url: str, path: str) -> int:
    status, headers = request(root_url, "GET", path)
    if "x-eureka-index" not in headers:
        raise RuntimeError(f"GET {path} answered {status} without X-Eureka-Index")
    return int(headers["x-eureka-index"])


def watched_registration(n: int) -> bytes:
    """Instance ``n`` of the watched application (not one wrk's heartbeats touch)."""
    body = json.loads(registration(n))
    instance = body["instance"]
    instance.update(
        instanceId=f"watched{n}",
        app=WATCHED_APP,
        hostName=f"watched{n}",
        vipAddress="watched",
    )
    return json.dumps(body).encode()


# ---------------------------------------------------------------------- (b) held connections

RELEASE_PATH = "/release"
HELD_PATH = "/held"


def bare_wake_server(body_bytes: int, header_count: int) -> None:
    """Child process: the floor. ``UvicornServer`` (our uvicorn configuration) serving an ASGI
    app that holds every GET on one ``asyncio.Event`` and, when a POST of
    :data:`RELEASE_PATH` sets it, answers each with ``body_bytes`` of body and
    ``header_count`` headers (Content-Length among them): what uvicorn alone costs an answer."""
    import logging

    from eureka_embed.asgi_server import GC_THRESHOLDS, UvicornServer

    body = b"x" * body_bytes
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(body_bytes).encode()),
    ]
    headers += [(f"x-bare-{n}".encode(), b"1") for n in range(header_count - len(headers))]
    start = {"type": "http.response.start", "status": 200, "headers": headers}
    answer = {"type": "http.response.body", "body": body}
    released = [asyncio.Event()]
    held = [0]

    async def app(
        scope: dict[str, object], receive: object, send: Callable[..., Awaitable[None]]
    ) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "POST" and scope["path"] == RELEASE_PATH:
            event, released[0] = released[0], asyncio.Event()
            event.set()
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body"})
            return
        if scope["path"] == HELD_PATH:  # how many wait: the bench releases once all do
            count = str(held[0]).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": count})
            return
        held[0] += 1
        await released[0].wait()
        held[0] -= 1
        await send(dict(start, headers=list(headers)))
        await send(dict(answer))

    logging.basicConfig(level=logging.INFO)
    server = UvicornServer(app=app, maintenance=False, connection_limit=20_000).listen()
    # The collector as ``serve --server uvicorn`` sets it (eureka_embed.cli).
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    server.serve_forever()


def wait_held(root_url: str, count: int, timeout: float = 60.0) -> None:
    """Until the bare server holds ``count`` requests: their intake is not the wake's cost."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        host, port = host_port(root_url)
        conn = http.client.HTTPConnection(host, port, timeout=30)
        try:
            conn.request("GET", HELD_PATH)
            if int(conn.getresponse().read()) >= count:
                return
        finally:
            conn.close()
        time.sleep(0.05)
    raise RuntimeError(f"the bare server did not hold {count} requests in {timeout:g} s")


def answer_shape(root_url: str, path: str) -> tuple[int, int]:
    """(body bytes, header count) of the answer to ``GET path``, uvicorn's date included."""
    host, port = host_port(root_url)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        answer = conn.getresponse()
        body = answer.read()
        # uvicorn adds its date header to both servers: not counted.
        return len(body), sum(name.lower() != "date" for name, _ in answer.getheaders())
    finally:
        conn.close()


class _Watcher(asyncio.Protocol):
    """One held watch: sends its request on connect and notes when its answer's first bytes
    arrive. A protocol, not a stream: reading 5,000 answers through streams costs this
    process more than the server spends sending them, and the figure is the server's."""

    def __init__(self, held: HeldConnections, request: bytes) -> None:
        self._held = held
        self._request = request
        self._answered = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = cast("asyncio.Transport", transport)
        self.transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        if not self._answered:
            self._answered = True
            self._held.answered(data.split(b"\r\n", 1)[0])


class HeldConnections:
    """Watchers held open by a thread running its own event loop, so that wrk measures the
    server while this process only waits: each connection sends
    ``GET apps/WATCHED?index=N&wait=5m``; :attr:`woken_at` collects when each answer arrived.
    """

    def __init__(self, root_url: str, count: int, *, watch_index: int) -> None:
        self._host, self._port = host_port(root_url)
        self._count = count
        target_path = f"/eureka/apps/{WATCHED_APP}?index={watch_index}&wait=5m"
        self._request = (
            f"GET {target_path} HTTP/1.1\r\nHost: bench\r\nAccept: application/json\r\n\r\n"
        ).encode()
        self._loop = _new_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.opened = 0
        self.woken_at: list[float] = []
        #: Status lines of answers other than 200.
        self.failed: list[str] = []
        self._all_woken = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HeldConnections:
        self._thread.start()
        if not self._ready.wait(120):
            raise RuntimeError("could not open the connections in two minutes")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def wait_woken(self, timeout: float) -> bool:
        return self._all_woken.wait(timeout)

    def answered(self, status: bytes) -> None:
        self.woken_at.append(time.monotonic())
        if b" 200 " not in status + b" ":
            self.failed.append(status.decode(errors="replace"))
        if len(self.woken_at) == self._count:
            self._all_woken.set()

    def _run(self) -> None:
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        watchers: list[_Watcher] = []
        for start in range(0, self._count, 500):  # in steps: the server's backlog is finite
            batch = [
                loop.create_connection(
                    functools.partial(_Watcher, self, self._request), self._host, self._port
                )
                for _ in range(start, min(start + 500, self._count))
            ]
            watchers.extend(protocol for _, protocol in await asyncio.gather(*batch))
        self.opened = len(watchers)
        self._ready.set()
        await self._stop.wait()
        for watcher in watchers:
            if watcher.transport is not None:
                watcher.transport.close()


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where installed (the asgi extra brings it): the cheaper the client's
    reading, the more the figure is the server's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def bench_watchers(instances: int, seconds: float, rounds: int, watchers: int) -> None:
    raise_fd_limit()
    with server_child(
        [*SERVE, "--server", "uvicorn", "--store", "memory://", "--connection-limit", "20000"]
    ) as (url, pid):
        register_over_http(url, instances)
        status, _ = request(url, "POST", f"/eureka/apps/{WATCHED_APP}", watched_registration(0))
        assert status == 204, status
        run_wrk(url, 2, instances)  # warm-up
        next_watched = iter(range(1, 1_000_000))
        wake_ms: list[list[float]] = []
        wake_cpu_us: list[float] = []  # the server's CPU per woken watcher

        def plain() -> float:
            return run_wrk(url, seconds, instances).rate

        def with_watchers() -> float:
            index = index_of(url, f"/eureka/apps/{WATCHED_APP}")
            with HeldConnections(url, watchers, watch_index=index) as held:
                rate = run_wrk(url, seconds, instances).rate
                cpu_before = process_cpu_s(pid)
                sent = time.monotonic()
                n = next(next_watched)
                status, _ = request(
                    url, "POST", f"/eureka/apps/{WATCHED_APP}", watched_registration(n)
                )
                assert status == 204, status
                if not held.wait_woken(60):
                    raise RuntimeError(f"only {len(held.woken_at)} of {watchers} watchers woke")
                wake_cpu_us.append((process_cpu_s(pid) - cpu_before) / watchers * 1e6)
                early = sum(t < sent for t in held.woken_at)
                if early or held.failed:
                    print(f"  (a round: {early} answered before the change, {held.failed[:3]})")
                wake_ms.append(sorted((t - sent) * 1000 for t in held.woken_at))
            return rate

        body_bytes, header_count = answer_shape(url, f"/eureka/apps/{WATCHED_APP}")
        bare_args = [
            str(Path(__file__).resolve()),
            "--bare-wake-server",
            f"{body_bytes},{header_count}",
        ]
        with server_child(bare_args) as (bare_url, bare_pid):
            bare_ms: list[list[float]] = []
            bare_cpu_us: list[float] = []

            def bare() -> float:
                with HeldConnections(bare_url, watchers, watch_index=0) as held:
                    wait_held(bare_url, watchers)
                    cpu_before = process_cpu_s(bare_pid)
                    sent = time.monotonic()
                    status, _ = request(bare_url, "POST", RELEASE_PATH)
                    assert status == 204, status
                    if not held.wait_woken(60):
                        raise RuntimeError(f"only {len(held.woken_at)} bare requests answered")
                    bare_cpu_us.append((process_cpu_s(bare_pid) - cpu_before) / watchers * 1e6)
                    bare_ms.append(sorted((t - sent) * 1000 for t in held.woken_at))
                return 0.0

            rates = interleaved({"none": plain, "watchers": with_watchers, "bare": bare}, rounds)
    heading(f"watchers held on serve --server uvicorn; wrk {seconds:g} s a round", rounds)
    row("heartbeats, no watcher, req/s", Spread.of(rates["none"]).show())
    row(f"heartbeats, {watchers:,} watchers held, req/s", Spread.of(rates["watchers"]).show())
    watch_ratio = ratio(rates["watchers"], rates["none"])
    row("watchers / none", watch_ratio.show(".2f"), target(">= 0.8", watch_ratio.median >= 0.8))
    ours, floor = wake_figures(wake_ms), wake_figures(bare_ms)
    row(f"wake-up of {watchers:,} watchers after one change, p50 ms", ours.p50.show(".1f"))
    row("  p99 ms", ours.p99.show(".1f"), target("<= 100 ms", ours.p99.median <= 100))
    row("  last ms", ours.last.show(".1f"))
    # What the wake costs the server, whatever else the machine runs: the wall times above
    # are this times the watchers where the server has a core to itself.
    row("  server CPU per woken watcher, us", Spread.of(wake_cpu_us).show(".1f"))
    print(
        f"  the floor: a bare ASGI app on the same uvicorn, {body_bytes:,} B and {header_count}"
        " headers an answer"
    )
    row("  bare wake-up, p50 ms", floor.p50.show(".1f"))
    row("  bare p99 ms", floor.p99.show(".1f"))
    row("  bare last ms", floor.last.show(".1f"))
    row("  bare server CPU per answer, us", Spread.of(bare_cpu_us).show(".1f"))
    row("  ours / bare, p99", ratio(ours.p99.values, floor.p99.values).show(".2f"))
    row("  ours / bare, server CPU per answer", ratio(wake_cpu_us, bare_cpu_us).show(".2f"))


class WakeFigures(NamedTuple):
    p50: Spread
    p99: Spread
    last: Spread


def wake_figures(rounds: Sequence[Sequence[float]]) -> WakeFigures:
    """p50, p99 and last of each round's sorted wake times (ms), over the rounds."""
    return WakeFigures(
        p50=Spread.of(statistics.median(times) for times in rounds),
        p99=Spread.of(times[int(len(times) * 0.99) - 1] for times in rounds),
        last=Spread.of(times[-1] for times in rounds),
    )


def process_cpu_s(pid: int) -> float:
    """User and system CPU seconds used so far by process ``pid`` (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        # Fields 14 and 15 (utime, stime) in clock ticks, after the parenthesised command.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------- (c) propagation


def watching_client() -> None:
    """Child process: a watching DiscoveryClient; prints ``<instance id> <monotonic>`` as each
    instance of WATCHED becomes visible."""
    from eureka_embed.client import DiscoveryClient, DiscoveryConfig
    from eureka_embed.client.discovery import CacheRefreshed

    url = sys.argv[sys.argv.index("--watching-client") + 1]
    seen: set[str] = set()
    lock = threading.Lock()
    started = False

    def watched_ids(view: object) -> list[str]:
        app = getattr(view, "apps", {}).get(WATCHED_APP)
        return [i.instance_id for i in app.instances] if app is not None else []

    def changed(event: CacheRefreshed) -> None:
        now = time.monotonic()
        with lock:
            for instance_id in watched_ids(event.view):
                if instance_id not in seen:
                    seen.add(instance_id)
                    if started:  # those of earlier rounds are not news
                        print(f"{instance_id} {now:.6f}", flush=True)

    config = DiscoveryConfig(
        app_name="bench-watcher",
        service_urls=f"{url}/eureka/",
        register_with_eureka=False,
        registry_fetch_interval_s=60.0,
    )
    client = DiscoveryClient(config)
    client.add_listener(changed)
    client.start()
    with lock:
        seen.update(i.instance_id for i in client.get_instances(WATCHED_APP, include_all=True))
        started = True
    print("ready", flush=True)
    sys.stdin.read()  # until the parent closes it
    client.shutdown()


def propagation(register_url: str, watch_url: str, count: int) -> list[float]:
    """Milliseconds from sending each of ``count`` registrations to the watcher seeing it."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen(
        [sys.executable, __file__, "--watching-client", watch_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        first = child.stdout.readline().strip()
        if first != "ready":
            raise RuntimeError(f"the watching client did not start: {first!r}")
        sent: dict[str, float] = {}
        seen: dict[str, float] = {}
        base = int(time.time() * 1000)
        for k in range(count):
            n = base + k
            sent[f"watched{n}"] = time.monotonic()
            status, _ = request(
                register_url, "POST", f"/eureka/apps/{WATCHED_APP}", watched_registration(n)
            )
            assert status == 204, status
            line = child.stdout.readline().split()
            seen[line[0]] = float(line[1])
            time.sleep(0.02)  # spaced out, as registrations of one deploy arrive
        return sorted((seen[key] - sent[key]) * 1000 for key in sent)
    finally:
        child.stdin.close()
        child.wait(30)


@contextmanager
def topology(kind: str, database: str | None) -> Iterator[tuple[str, str] | None]:
    """(registration URL, watched URL) of a running topology, or None if it cannot run here."""
    with contextlib.ExitStack() as stack:
        if kind == "one node":
            url = stack.enter_context(
                server_process([*SERVE, "--server", "uvicorn", "--store", "memory://"])
            )
            yield url, url
        elif kind == "two nodes, one PostgreSQL":
            if database is None:
                yield None
                return
            subprocess.run(
                [sys.executable, "-m", "eureka_embed", "db", "upgrade", "--store", database],
                check=True,
                capture_output=True,
            )
            a, b = (
                stack.enter_context(
                    server_process([*SERVE, "--server", "uvicorn", "--store", database])
                )
                for _ in range(2)
            )
            yield a, b
        else:
            ports = [_free_port() for _ in range(3)]
            urls = [f"http://127.0.0.1:{p}" for p in ports]
            nodes = []
            for port in ports:
                peers = [f"--peer={u}/eureka/" for u in urls if not u.endswith(f":{port}")]
                args = [*SERVE[:-1], str(port), "--server", "uvicorn", "--store", "memory://"]
                nodes.append(stack.enter_context(server_process([*args, *peers])))
            yield nodes[0], nodes[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def bench_propagation(count: int, rounds: int, database: str | None) -> None:
    goals = {
        "one node": (10, 50),
        "two nodes, one PostgreSQL": (50, 150),
        "three peers": (150, 300),
    }
    heading(
        f"register -> visible in a watching DiscoveryClient, {count} registrations a round", rounds
    )
    for kind, (p50_goal, p99_goal) in goals.items():
        with topology(kind, database) as urls:
            if urls is None:
                row(kind, "skipped: set EUREKA_EMBED_BENCH_POSTGRES")
                continue
            runs = interleaved({kind: functools.partial(propagation, *urls, count)}, rounds)[kind]
        p50 = Spread.of(statistics.median(times) for times in runs)
        p99 = Spread.of(times[max(int(len(times) * 0.99) - 1, 0)] for times in runs)
        row(f"{kind}, p50 ms", p50.show(".1f"), target(f"<= {p50_goal} ms", p50.median <= p50_goal))
        row(f"{kind}, p99 ms", p99.show(".1f"), target(f"<= {p99_goal} ms", p99.median <= p99_goal))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=1000, help="registered for wrk")
    parser.add_argument("--seconds", type=float, default=4.0, help="per wrk round")
    parser.add_argument("--watchers", type=int, default=5_000, help="watchers held")
    parser.add_argument("--registrations", type=int, default=100, help="per propagation round")
    parser.add_argument(
        "--database",
        default=os.environ.get("EUREKA_EMBED_BENCH_POSTGRES"),
        help="PostgreSQL URL for the shared-database row (env EUREKA_EMBED_BENCH_POSTGRES)",
    )
    parser.add_argument("--skip", action="append", default=[], choices=["b", "c"])
    parser.add_argument("--watching-client", help=argparse.SUPPRESS)
    parser.add_argument("--bare-wake-server", help=argparse.SUPPRESS)
    rounds_argument(parser)
    args = parser.parse_args(argv)
    if args.watching_client:
        watching_client()
        return
    if args.bare_wake_server:
        body_bytes, header_count = map(int, args.bare_wake_server.split(","))
        bare_wake_server(body_bytes, header_count)
        return
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk): skipping (b)")
        args.skip.append("b")
    sections: dict[str, Callable[[], None]] = {
        "b": lambda: bench_watchers(args.instances, args.seconds, args.rounds, args.watchers),
        "c": lambda: bench_propagation(args.registrations, args.rounds, args.database),
    }
    for name, run in sections.items():
        if name not in args.skip:
            run()


if __name__ == "__main__":
    main()
