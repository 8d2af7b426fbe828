"""SQLite register over HTTP with 1 vs 16 clients, and node start over a file of N (issue 12).

Run: ``python bench/bench_sql_scaling.py [--rounds N] [--sizes 1000,10000,50000,100000]``.

- **Register over HTTP**: ``eureka-embed serve`` over a SQLite file in a subprocess, on each
  server (waitress, the default, and ``--server uvicorn``), both running throughout; each round
  sends ``--registrations`` registrations to each from one client, and the same number from 16
  clients at once (threads with a keep-alive connection each, fresh instance ids every time),
  in an order that rotates between rounds; the ratio is taken within each round. Target: 16
  clients >= 1.5x one client, and >= 1,500/s. The floor, in the same rounds: the same server
  code (waitress settings, or ``UvicornServer``) with a one-route Falcon app that reads each
  registration's body and answers 204, storing nothing, sent to by the same 16 client threads:
  what any application gets from these clients and this server on this machine.
- **Node start**: for each size a SQLite file of N registered instances (and their N logged
  changes, as after a deploy) is written once; each round opens a store over it in a fresh
  process and times the constructor (schema check, loading every lease and the log). The growth
  exponent is the slope of log(time) over log(N) between the smallest and largest size.
  Target: <= 1.5 s at 100k. The floor, in the same rounds and fresh processes: reading the
  same rows with the sqlite3 module and ``orjson.loads`` of each distinct stored instance,
  building nothing more (``--skip-floor`` leaves both floors out).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import itertools
import math
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a source tree
    sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.bench_http import registration, server_process  # noqa: E402
from bench.bench_registry import make_instance  # noqa: E402
from bench.rounds import Spread, heading, interleaved, ratio, rounds_argument, row, target  # noqa: E402
from eureka_embed.codec import instance_to_dict  # noqa: E402
from eureka_embed.storage import migrate  # noqa: E402
from eureka_embed.storage.sql_schema import SEQUENCE_NAME, changes, leases, renewals, sequence  # noqa: E402

CLIENTS = 16


def register_batch(root_url: str, ids: list[int], clients: int) -> float:
    """Registrations of ``ids`` from ``clients`` concurrent connections; registrations/s."""
    host, port = root_url.removeprefix("http://").rsplit(":", 1)
    shares = [ids[c::clients] for c in range(clients)]
    failures: list[str] = []

    def client(share: list[int]) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            for n in share:
                conn.request(
                    "POST",
                    f"/eureka/apps/APP{n % 50}",
                    body=registration(n),
                    headers={"Content-Type": "application/json"},
                )
                answer = conn.getresponse()
                answer.read()
                if answer.status != 204:
                    failures.append(f"{n}: {answer.status}")
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"registrations failed: {failures[:5]}")
    return len(ids) / elapsed


SERVERS = ("waitress", "uvicorn")


def floor_server(server: str) -> None:
    """The register floor: the server code of ``serve --server {server}`` with one POST route
    that reads the body and answers 204 (no store, no registry)."""
    import logging

    import falcon
    import falcon.asgi

    logging.basicConfig(level=logging.INFO)
    if server == "waitress":
        from eureka_embed.server import EurekaServer

        class Register:
            def on_post(self, req: falcon.Request, resp: falcon.Response, app: str) -> None:
                req.bounded_stream.read()
                resp.status = falcon.HTTP_204

        wsgi = falcon.App()
        wsgi.add_route("/eureka/apps/{app}", Register())
        EurekaServer(app=wsgi, maintenance=False).serve_forever()
        return
    from eureka_embed.asgi_server import UvicornServer

    class AsyncRegister:
        async def on_post(
            self, req: falcon.asgi.Request, resp: falcon.asgi.Response, app: str
        ) -> None:
            await req.bounded_stream.read()
            resp.status = falcon.HTTP_204

    asgi = falcon.asgi.App()
    asgi.add_route("/eureka/apps/{app}", AsyncRegister())
    UvicornServer(app=asgi, maintenance=False).serve_forever()


def bench_register(registrations: int, rounds: int, floor: bool) -> None:
    """Both servers, each over its own SQLite file, measured in the same interleaved rounds."""
    fresh = itertools.count()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as servers:
        urls = {}
        for server in SERVERS:
            store = f"sqlite:///{Path(tmp) / f'{server}.db'}"
            args = ["-m", "eureka_embed", "serve", "--port", "0", "--store", store]
            urls[server] = servers.enter_context(server_process([*args, "--server", server]))
            if floor:
                urls[f"{server} floor"] = servers.enter_context(
                    server_process([str(Path(__file__).resolve()), "--floor-server", server])
                )
        for url in urls.values():
            register_batch(url, [next(fresh) for _ in range(200)], CLIENTS)  # warm-up

        def subject(url: str, clients: int) -> Callable[[], float]:
            def measure() -> float:
                ids = [next(fresh) for _ in range(registrations)]
                return register_batch(url, ids, clients)

            return measure

        subjects = {
            f"{server}, {clients}": subject(urls[server], clients)
            for server in SERVERS
            for clients in (1, CLIENTS)
        }
        if floor:
            subjects |= {
                f"{server} floor": subject(urls[f"{server} floor"], CLIENTS) for server in SERVERS
            }
        rates = interleaved(subjects, rounds)
    heading(f"SQLite file over HTTP, {registrations} registrations per subject", rounds)
    for server in SERVERS:
        one, many = rates[f"{server}, 1"], rates[f"{server}, {CLIENTS}"]
        scaled = ratio(many, one)
        row(f"register, {server}, 1 client (/s)", Spread.of(one).show())
        row(
            f"register, {server}, {CLIENTS} clients (/s)",
            Spread.of(many).show(),
            target(">= 1,500", Spread.of(many).median >= 1500),
        )
        row(
            f"register, {server}, {CLIENTS} clients / 1 client",
            scaled.show(".2f"),
            target(">= 1.5", scaled.median >= 1.5),
        )
        if floor:
            bare = rates[f"{server} floor"]
            row(
                f"floor, {server}, {CLIENTS} clients, 204 storing nothing (/s)",
                Spread.of(bare).show(),
            )
            row(f"register, {server}, {CLIENTS} clients / floor", ratio(many, bare).show(".2f"))


def write_file(path: Path, instances: int) -> None:
    """A store's file of ``instances`` registrations and their logged changes, written in bulk
    (the rows the store writes, without its per-write cost)."""
    engine = sa.create_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        for start in range(0, instances, 5_000):
            lease_rows, renewal_rows, change_rows = [], [], []
            for n in range(start, min(instances, start + 5_000)):
                info = make_instance(n)
                text = orjson.dumps(instance_to_dict(info)).decode()
                key = {"app": info.app, "instance_id": info.instance_id}
                lease_rows.append(
                    {**key, "instance": text, "override": None, "duration_ms": 90_000}
                )
                renewal_rows.append({**key, "last_renewal_ms": 1_700_000_000_000})
                change_rows.append(
                    {
                        **key,
                        "seq": n + 1,
                        "timestamp_ms": 1_700_000_000_000,
                        "action": "ADDED",
                        "instance": text,
                    }
                )
            conn.execute(sa.insert(leases), lease_rows)
            conn.execute(sa.insert(renewals), renewal_rows)
            conn.execute(sa.insert(changes), change_rows)
        conn.execute(
            sa.update(sequence).where(sequence.c.name == SEQUENCE_NAME).values(value=instances)
        )
    engine.dispose()


_START = """
import sys, time
from eureka_embed.storage.sql import SqlStore
start = time.perf_counter()
store = SqlStore(sys.argv[1], background=False)
elapsed = time.perf_counter() - start
assert store.count() == int(sys.argv[2]), store.count()
print(elapsed)
"""


# The start floor: the rows a start reads (leases with their renewals, and the log), through
# the sqlite3 module, and each distinct stored instance parsed once, as the store does.
_START_FLOOR = """
import gc, sqlite3, sys, time
import orjson
gc.disable()  # as the store's load holds the collector off (codec.bulk)
start = time.perf_counter()
db = sqlite3.connect(sys.argv[1])
parsed = {}
rows = db.execute(
    "SELECT l.instance, l.override, l.duration_ms, r.last_renewal_ms FROM eureka_leases l"
    " JOIN eureka_renewals r ON r.app = l.app AND r.instance_id = l.instance_id"
).fetchall()
log = db.execute(
    "SELECT seq, timestamp_ms, action, instance FROM eureka_changes ORDER BY seq"
).fetchall()
for row in rows:
    parsed[row[0]] = orjson.loads(row[0])
for change in log:
    if change[3] not in parsed:
        parsed[change[3]] = orjson.loads(change[3])
elapsed = time.perf_counter() - start
assert len(rows) == int(sys.argv[2]), len(rows)
print(elapsed)
"""


def start_once(path: Path, instances: int, floor: bool = False) -> float:
    script, where = (_START_FLOOR, str(path)) if floor else (_START, f"sqlite:///{path}")
    done = subprocess.run(
        [sys.executable, "-c", script, where, str(instances)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return float(done.stdout.strip()) * 1000


def bench_start(sizes: list[int], rounds: int, floor: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for size in sizes:
            files[size] = Path(tmp) / f"n{size}.db"
            write_file(files[size], size)
        subjects: dict[str, Callable[[], float]] = {
            f"{size}": functools.partial(start_once, files[size], size) for size in sizes
        }
        if floor:
            subjects |= {
                f"{size} floor": functools.partial(start_once, files[size], size, True)
                for size in sizes
            }
        times = interleaved(subjects, rounds)
    heading("SQLite node start over a file of N (fresh process per point)", rounds)
    medians = {}
    for size in sizes:
        spread = Spread.of(times[f"{size}"])
        medians[size] = spread.median
        goal = target("<= 1,500 ms", spread.median <= 1500) if size == 100_000 else ""
        row(f"node start, {size:,} instances (ms)", spread.show(",.0f"), goal)
        if floor:
            bare = times[f"{size} floor"]
            row(
                f"floor, {size:,}: the rows read and parsed only (ms)", Spread.of(bare).show(",.0f")
            )
            row(f"node start / floor, {size:,}", ratio(times[f"{size}"], bare).show(".2f"))
    low, high = min(sizes), max(sizes)
    if high > low:
        slope = math.log(medians[high] / medians[low]) / math.log(high / low)
        row(f"growth exponent, {low:,} to {high:,}", f"N^{slope:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=800, help="per subject and round")
    parser.add_argument("--sizes", default="1000,10000,50000,100000")
    parser.add_argument("--skip-register", action="store_true")
    parser.add_argument("--skip-start", action="store_true")
    parser.add_argument("--skip-floor", action="store_true", help="measure no floors")
    parser.add_argument("--floor-server", choices=SERVERS, help=argparse.SUPPRESS)
    rounds_argument(parser)
    args = parser.parse_args()
    if args.floor_server:
        floor_server(args.floor_server)
        return
    if not args.skip_register:
        bench_register(args.registrations, args.rounds, not args.skip_floor)
    if not args.skip_start:
        bench_start([int(s) for s in args.sizes.split(",")], args.rounds, not args.skip_floor)


if __name__ == "__main__":
    main()
