"""Soak (issue 16): one node under a fleet's steady load for minutes; does anything grow?

Run: ``python bench/soak.py`` (10 minutes per store; ``--minutes 2`` for a quick check;
``--postgres URL`` or ``EUREKA_EMBED_TEST_POSTGRES`` adds the PostgreSQL run). Not a test.

The load, against ``eureka-embed serve --server uvicorn`` (the server for large fleets):

- 10,000 instances registered over HTTP, then each renewed every 30 s (Eureka's interval), at
  a phase of its own, so heartbeats arrive spread evenly (about 333/s), on keep-alive
  connections as clients hold them;
- 100 delta readers, each fetching ``apps/delta`` every 30 s at a phase of its own (what an
  Eureka client does);
- 100 watchers, each holding ``apps/delta?index=N&wait=30s`` and coming back at once with the
  index of every answer (what a watching DiscoveryClient does);
- churn: one registration or cancel a second (of instances outside the fleet), so deltas
  change and watchers wake.

Every answer that is not the one expected, and every failed request, is an error (by kind, with
the first line of the answer's reason, so a 503 says why). A heartbeat answered 404 registers its
instance again, as an Eureka client does (the 404 still counts as an error: nothing in this load
should make an instance unknown).
Every 10 s the server process's RSS, open file descriptors and threads are sampled; after a
warm-up (a quarter of the run, at least 30 s) a least-squares slope per minute is fitted to
each and printed with the values at both ends of the fit.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a source tree
    sys.path.insert(0, str(ROOT))

from bench.bench_http import APPS, registration, rss_mib, server_child  # noqa: E402
from bench.rounds import row  # noqa: E402
from eureka_embed.protocol import INDEX_HEADER  # noqa: E402

INSTANCES = 10_000
RENEW_S = 30.0
READERS = 100
WATCHERS = 100
SAMPLE_S = 10.0
HEARTBEAT_THREADS = 8


@dataclass
class Errors:
    """Errors by (kind of client, what went wrong); thread-safe."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def done(self, who: str, problem: str | None) -> None:
        with self._lock:
            self.requests[who] += 1
            if problem is not None:
                self.counts[(who, problem)] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def reason(self) -> str:
        """The first line of the answer's body, short (what a 4xx/5xx says went wrong)."""
        if self.headers.get("content-encoding") == "gzip":
            return "(gzip body)"
        first = self.body.decode("utf-8", "replace").strip().splitlines()[:1]
        return first[0][:120] if first else "(no reason)"


class Client:
    """One keep-alive connection, reopened after a failure (as a client's pool does)."""

    def __init__(self, root_url: str, timeout: float) -> None:
        host, port = root_url.removeprefix("http://").rsplit(":", 1)
        self._address = (host, int(port))
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: bytes | None = None) -> Answer:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(*self._address, timeout=self._timeout)
        headers = {"Accept": "application/json", "Accept-Encoding": "gzip"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            self._conn.request(method, path, body=body, headers=headers)
            answer = self._conn.getresponse()
            text = answer.read()
        except Exception:
            self.close()
            raise
        return Answer(answer.status, {k.lower(): v for k, v in answer.getheaders()}, text)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _path(n: int) -> str:
    return f"/eureka/apps/APP{n % APPS}/host{n}:app{n % APPS}:8080"


def attempt(
    errors: Errors, who: str, send: Callable[[], Answer], ok: Sequence[int]
) -> Answer | None:
    """Make one request; count it, and its problem if any. The answer (expected or not), or
    None when the request failed."""
    try:
        answer = send()
    except Exception as exc:
        errors.done(who, type(exc).__name__)
        return None
    ok_answer = answer.status in ok
    errors.done(who, None if ok_answer else f"HTTP {answer.status}: {answer.reason()}")
    return answer


def register_fleet(root_url: str, errors: Errors, instances: int) -> None:
    """Register every instance, from four connections at once."""

    def part(k: int) -> None:
        client = Client(root_url, 30)
        for n in range(k, instances, 4):
            attempt(
                errors,
                "register",
                partial(client.call, "POST", f"/eureka/apps/APP{n % APPS}", registration(n)),
                (204,),
            )
        client.close()

    threads = [threading.Thread(target=part, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def heartbeats(
    root_url: str, errors: Errors, stop: threading.Event, k: int, instances: int
) -> None:
    """Renew instances k, k+8, ... each every RENEW_S, each at its own phase."""
    client = Client(root_url, 30)
    mine = list(range(k, instances, HEARTBEAT_THREADS))
    start = time.monotonic()
    phase = {n: random.uniform(0, RENEW_S) for n in mine}
    order = sorted(mine, key=phase.__getitem__)
    cycle = 0
    while not stop.is_set():
        for n in order:
            due = start + cycle * RENEW_S + phase[n]
            if stop.wait(max(due - time.monotonic(), 0)):
                break
            answer = attempt(errors, "heartbeat", partial(client.call, "PUT", _path(n)), (200,))
            if answer is not None and answer.status == 404:  # unknown here: register again
                again = partial(client.call, "POST", f"/eureka/apps/APP{n % APPS}", registration(n))
                attempt(errors, "register again (after a 404)", again, (204,))
        cycle += 1
    client.close()


def reader(root_url: str, errors: Errors, stop: threading.Event) -> None:
    client = Client(root_url, 30)
    if not stop.wait(random.uniform(0, RENEW_S)):
        while True:
            attempt(
                errors, "delta reader", partial(client.call, "GET", "/eureka/apps/delta"), (200,)
            )
            if stop.wait(RENEW_S):
                break
    client.close()


def watcher(root_url: str, errors: Errors, stop: threading.Event) -> None:
    client = Client(root_url, 40)
    index: str | None = None
    while not stop.is_set():
        path = (
            "/eureka/apps/delta"
            if index is None
            else (f"/eureka/apps/delta?index={index}&wait=30s")
        )
        began = time.monotonic()
        answer = attempt(errors, "watcher", partial(client.call, "GET", path), (200,))
        headers = answer.headers if answer is not None and answer.status == 200 else None
        moved = headers is not None and headers.get(INDEX_HEADER.lower()) != index
        index = headers.get(INDEX_HEADER.lower()) if headers is not None else None
        # Answered at once without a change (or failed): a client waits a little, never spins.
        if not moved and time.monotonic() - began < 1:
            stop.wait(1)
    client.close()


def churn(root_url: str, errors: Errors, stop: threading.Event, instances: int) -> None:
    """Every second, register an instance of its own or cancel the one it registered last.

    Its instances are not the fleet's, so no heartbeat races a cancel (a 404 there would be a
    client's cue to register again, not an error).
    """
    client = Client(root_url, 30)
    tick = 0
    while not stop.wait(1.0):
        n = instances + tick // 2 % 100
        if tick % 2 == 0:
            send = partial(client.call, "POST", f"/eureka/apps/APP{n % APPS}", registration(n))
            attempt(errors, "churn", send, (204,))
        else:
            attempt(errors, "churn", partial(client.call, "DELETE", _path(n)), (200,))
        tick += 1
    client.close()


@dataclass(frozen=True)
class Sample:
    at_s: float
    rss_mib: float
    fds: int
    threads: int


def sample(pid: int, at_s: float) -> Sample:
    with open(f"/proc/{pid}/status") as status:
        threads = next(int(line.split()[1]) for line in status if line.startswith("Threads:"))
    return Sample(at_s, rss_mib(pid), len(os.listdir(f"/proc/{pid}/fd")), threads)


def slope_per_minute(points: Sequence[tuple[float, float]]) -> float:
    """The least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 2:
        return float("nan")
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    return float(statistics.linear_regression(xs, ys).slope * 60)


@contextmanager
def load(root_url: str, errors: Errors, instances: int) -> Iterator[None]:
    stop = threading.Event()
    threads = [
        *(
            threading.Thread(target=heartbeats, args=(root_url, errors, stop, k, instances))
            for k in range(HEARTBEAT_THREADS)
        ),
        *(threading.Thread(target=reader, args=(root_url, errors, stop)) for _ in range(READERS)),
        *(threading.Thread(target=watcher, args=(root_url, errors, stop)) for _ in range(WATCHERS)),
        threading.Thread(target=churn, args=(root_url, errors, stop, instances)),
    ]
    for thread in threads:
        thread.daemon = True
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(45)  # a watcher may be held for its whole wait


def soak(label: str, store: str, minutes: float, instances: int, server: str) -> bool:
    print(
        f"\n{label}: {instances:,} instances, {READERS} delta readers, {WATCHERS} watchers, "
        f"{minutes:g} min on {server}"
    )
    args = [
        "-m",
        "eureka_embed",
        "serve",
        "--port",
        "0",
        "--server",
        server,
        "--store",
        store,
        "--auto-migrate",
    ]
    if server == "waitress":  # each held watch takes a worker thread there
        args += ["--threads", str(WATCHERS + 16), "--max-watchers", str(WATCHERS + 4)]
    errors = Errors()
    with server_child(args) as (root_url, pid):
        started = time.monotonic()
        register_fleet(root_url, errors, instances)
        row("registration of the fleet", f"{time.monotonic() - started:.1f} s")
        samples: list[Sample] = []
        began = time.monotonic()
        with load(root_url, errors, instances):
            while (elapsed := time.monotonic() - began) < minutes * 60:
                samples.append(sample(pid, elapsed))
                time.sleep(min(SAMPLE_S, max(minutes * 60 - elapsed, 0.01)))
            samples.append(sample(pid, time.monotonic() - began))
    warm_up = max(minutes * 60 / 4, 30.0)
    fitted = [s for s in samples if s.at_s >= warm_up]
    row("samples fitted (after the warm-up)", f"{len(fitted)} from {warm_up:.0f} s")
    for name, unit, value in (
        ("RSS", " MiB", lambda s: s.rss_mib),
        ("open fds", "", lambda s: float(s.fds)),
        ("threads", "", lambda s: float(s.threads)),
    ):
        slope = slope_per_minute([(s.at_s, value(s)) for s in fitted])
        ends = f"{value(fitted[0]):.1f} -> {value(fitted[-1]):.1f}" if fitted else "-"
        row(f"{name} slope (first -> last sample)", f"{slope:+.3f}{unit}/min ({ends})")
    for who, count in sorted(errors.requests.items()):
        row(f"{who} requests", f"{count:,}")
    row("errors", f"{errors.total}")
    for (who, problem), count in errors.counts.most_common():
        row(f"  {who}: {problem}", f"{count:,}")
    return errors.total == 0


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="per store (default 10)")
    parser.add_argument("--instances", type=int, default=INSTANCES)
    parser.add_argument("--server", default="uvicorn", choices=("uvicorn", "waitress"))
    parser.add_argument(
        "--postgres",
        default=os.environ.get("EUREKA_EMBED_TEST_POSTGRES"),
        help="a PostgreSQL URL for the second run (its eureka tables are reused)",
    )
    options = parser.parse_args(argv)
    clean = True
    with ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="eureka-soak-"))
        clean &= soak(
            "SQLite (default store)",
            f"sqlite:///{folder}/eureka.db",
            options.minutes,
            options.instances,
            options.server,
        )
    if options.postgres:
        clean &= soak(
            "PostgreSQL", options.postgres, options.minutes, options.instances, options.server
        )
    else:
        print("\nPostgreSQL: skipped (give --postgres or EUREKA_EMBED_TEST_POSTGRES)")
    sys.exit(0 if clean else 1)


if __name__ == "__main__":
    main()
