"""Peer replication latency: a write on one node until it is visible on its two peers.

Run: ``python bench/bench_replication.py`` (about a minute). Prints figures; it is not a timed
test.

Three ``eureka-embed serve`` processes on loopback, each given the whole cluster as peers
(``--peer`` with all three URLs: each finds and skips itself). One write at a time, a new
instance is registered on A and B and C are polled (every 2 ms) until both serve it. This runs
in interleaved rounds (``bench/rounds.py``) under two conditions: with a background load of
heartbeats on A (1k renews/s by default, on keep-alive connections, so A's replication queues
to B and C carry that load), and without it, the baseline. Reported: the p50 of each round as
median (min-max), the loaded / unloaded ratio of the same rounds, the p99 of all writes of each
condition pooled (a round has too few writes for its own p99), the renew rate reached, and what
A's senders did (batches, dropped, failed). Targets, under load: p50 < 150 ms, p99 < 500 ms, no
dropped task.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.rounds import Spread, heading, interleaved, ratio, rounds_argument, row, target

ROOT = Path(__file__).resolve().parent.parent
READY = re.compile(r"eureka-embed serving on (http://\S+)")
JSON = {"Content-Type": "application/json", "Accept": "application/json"}
P50_TARGET_MS = 150.0
P99_TARGET_MS = 500.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def node(port: int, peers: list[str]) -> Iterator[str]:
    """``eureka-embed serve`` on ``port`` replicating to ``peers``; its base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EUREKA_EMBED_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "eureka_embed", "serve", "--port", str(port)]
    command += ["--peer", ",".join(peers), "--store", "memory://", "--log-level", "warning"]
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, env=env,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        # The ready line is logged at info; at warning level, poll the port instead.
        url = f"http://127.0.0.1:{port}/eureka/"
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"node on {port} exited: {process.stderr.read()}")
            try:
                if Connection(url).request("GET", "status") == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"node on {port} did not start")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stderr is not None:
            process.stderr.close()


class Connection:
    """One keep-alive connection to a node; reconnects when the server closed it."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        assert parts.hostname is not None and parts.port is not None
        self._address = (parts.hostname, parts.port)
        self._base = parts.path
        self._conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] = JSON
    ) -> int:
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(*self._address, timeout=10)
            try:
                self._conn.request(method, self._base + path, body=body, headers=headers)
                answer = self._conn.getresponse()
                answer.read()
                return answer.status
            except (http.client.HTTPException, ConnectionError):
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def json(self, path: str) -> Any:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(*self._address, timeout=10)
        self._conn.request("GET", self._base + path, headers=JSON)
        answer = self._conn.getresponse()
        return json.loads(answer.read())

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def registration(instance_id: str, app: str) -> bytes:
    return json.dumps(
        {
            "instance": {
                "instanceId": instance_id,
                "hostName": "127.0.0.1",
                "app": app,
                "ipAddr": "127.0.0.1",
                "status": "UP",
                "port": {"$": 8080, "@enabled": "true"},
                "vipAddress": app.lower(),
                "dataCenterInfo": {
                    "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
                    "name": "MyOwn",
                },
                "lastDirtyTimestamp": "1000",
            }
        }
    ).encode()


class RenewLoad:
    """Heartbeats for ``instances`` instances at ``rate`` per second, from ``threads`` threads."""

    def __init__(self, url: str, instances: int, rate: float, threads: int = 4) -> None:
        self._url = url
        self._instances = instances
        self._interval = threads / rate
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(n, threads), name=f"renew-{n}")
            for n in range(threads)
        ]
        self.sent = 0
        self.failed = 0
        self._lock = threading.Lock()

    def register_all(self) -> None:
        conn = Connection(self._url)
        for n in range(self._instances):
            status = conn.request("POST", "apps/LOAD", registration(f"load-{n}", "LOAD"))
            assert status == 204, status
        conn.close()

    def _run(self, offset: int, stride: int) -> None:
        conn = Connection(self._url)
        n = offset
        due = time.monotonic()
        sent = failed = 0
        while not self._stop.is_set():
            instance = n % self._instances
            status = conn.request("PUT", f"apps/LOAD/load-{instance}?status=UP")
            sent += 1
            failed += status != 200
            n += stride
            due += self._interval
            pause = due - time.monotonic()
            if pause > 0:
                self._stop.wait(pause)
        conn.close()
        with self._lock:
            self.sent += sent
            self.failed += failed

    def __enter__(self) -> RenewLoad:
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        self.elapsed = time.monotonic() - self.started


def visible_after(conn: Connection, path: str, started: float, timeout: float = 5.0) -> float:
    """Seconds from ``started`` until ``path`` answers 200 (polling every 2 ms)."""
    while True:
        if conn.request("GET", path) == 200:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{path} not visible within {timeout} s")
        time.sleep(0.002)


def watch(results: dict[str, float], url: str, conn: Connection, path: str, started: float) -> None:
    results[url] = visible_after(conn, path, started)


def measure(
    a: str, peers: list[str], seconds: float, probes: Iterator[int]
) -> dict[str, list[float]]:
    """Register probe instances on ``a`` one at a time; per-peer and both-peers latencies."""
    writer = Connection(a)
    observers = [Connection(url) for url in peers]
    latencies: dict[str, list[float]] = {"both": [], **{url: [] for url in peers}}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        n = next(probes)
        instance_id = f"probe-{n}"
        path = f"apps/PROBE/{instance_id}"
        started = time.monotonic()
        assert writer.request("POST", "apps/PROBE", registration(instance_id, "PROBE")) == 204
        results: dict[str, float] = {}
        watchers = [
            threading.Thread(target=watch, args=(results, url, conn, path, started))
            for url, conn in zip(peers, observers, strict=True)
        ]
        for thread in watchers:
            thread.start()
        for thread in watchers:
            thread.join(10)
        for url in peers:
            latencies[url].append(results[url])
        latencies["both"].append(max(results.values()))
        # Writes land at varying points of the batching window, not in step with it.
        time.sleep(0.02 + (n * 37 % 100) / 1000)
    for conn in [writer, *observers]:
        conn.close()
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]


class Rounds:
    """One round of each condition: the probe writes with and without the background load."""

    def __init__(self, a: str, peers: list[str], load: Callable[[], RenewLoad], seconds: float):
        self._a, self._peers, self._load, self._seconds = a, peers, load, seconds
        self._probes = itertools.count()
        self.loads: list[RenewLoad] = []

    def loaded(self) -> dict[str, list[float]]:
        with self._load() as load:
            time.sleep(0.5)  # let the load settle before measuring
            found = measure(self._a, self._peers, self._seconds, self._probes)
        self.loads.append(load)
        return found

    def unloaded(self) -> dict[str, list[float]]:
        return measure(self._a, self._peers, self._seconds, self._probes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time a round")
    parser.add_argument("--rate", type=float, default=1000.0, help="background renews/s")
    parser.add_argument("--instances", type=int, default=1000, help="renewing instances")
    rounds_argument(parser)
    args = parser.parse_args()

    with ExitStack() as stack:
        ports = [free_port() for _ in range(3)]
        urls = [f"http://127.0.0.1:{port}/eureka/" for port in ports]
        nodes = [stack.enter_context(node(port, urls)) for port in ports]
        a, peers = nodes[0], nodes[1:]
        RenewLoad(a, args.instances, args.rate).register_all()
        rounds = Rounds(a, peers, lambda: RenewLoad(a, args.instances, args.rate), args.seconds)
        found = interleaved({"loaded": rounds.loaded, "unloaded": rounds.unloaded}, args.rounds)
        status = Connection(a).json("status")["status"]

    sent = sum(load.sent for load in rounds.loads)
    failed = sum(load.failed for load in rounds.loads)
    elapsed = sum(load.elapsed for load in rounds.loads)
    print(
        f"3 nodes on loopback; background load on A in loaded rounds: {sent / elapsed:.0f} renews/s"
    )
    print(f"  ({sent} sent, {failed} not answered 200)")
    heading(
        f"latency of a registration on A until visible on both peers, {args.seconds:g} s a round",
        args.rounds,
    )
    p50 = {
        condition: [percentile(r["both"], 0.5) for r in runs] for condition, runs in found.items()
    }
    pooled = {condition: [v for r in runs for v in r["both"]] for condition, runs in found.items()}
    loaded_p50 = Spread.of(p50["loaded"])
    row(
        "p50 under load, ms",
        loaded_p50.show(".1f", scale=1000),
        target(f"< {P50_TARGET_MS:.0f} ms", loaded_p50.median * 1000 < P50_TARGET_MS),
    )
    row("p50 without load (baseline), ms", Spread.of(p50["unloaded"]).show(".1f", scale=1000))
    row("p50 loaded / unloaded", ratio(p50["loaded"], p50["unloaded"]).show(".2f"))
    for condition in ("loaded", "unloaded"):
        values = pooled[condition]
        p99 = percentile(values, 0.99)
        goal = (
            target(f"< {P99_TARGET_MS:.0f} ms", p99 * 1000 < P99_TARGET_MS)
            if condition == "loaded"
            else ""
        )
        row(f"p99 {condition}, all {len(values)} writes pooled, ms", f"{p99 * 1000:.1f}", goal)
        row(f"max {condition}, ms", f"{max(values) * 1000:.1f}")
    for name, url in zip("BC", peers, strict=True):
        per_peer = Spread.of(percentile(r[url], 0.5) for r in found["loaded"])
        row(f"p50 under load, on {name} alone, ms", per_peer.show(".1f", scale=1000))
    dropped = 0
    for peer in status["peers"]:
        dropped += peer["dropped"]
        print(
            f"A -> {peer['url']}: batches {peer['batchesSent']}, items {peer['itemsSent']} "
            f"(avg {peer['itemsSent'] / max(peer['batchesSent'], 1):.0f}/batch), "
            f"dropped {peer['dropped']}, failed {peer['failed']}, retries {peer['retries']}"
        )
    row("replication tasks dropped", str(dropped), target("0", dropped == 0))


if __name__ == "__main__":
    main()
