"""SQL store benchmarks: renew throughput, flush of dirty leases, write-through register/cancel.

Run: ``python bench/bench_sql.py [--postgres URL] [--mariadb URL]`` (two minutes with both
databases on an idle machine). Every store is filled first (10k instances, written through one
at a time); then, in interleaved rounds (``bench/rounds.py``), each store in turn renews every
lease (three passes), flushes the dirty leases, and writes ``--writes`` register+cancel pairs
through. Figures are medians (min-max) over the rounds; renew is also a ratio to the memory
store in the same rounds.
PostgreSQL and MariaDB are measured when reachable (default: the test suite's
``EUREKA_EMBED_TEST_POSTGRES`` / ``EUREKA_EMBED_TEST_MARIADB``, else this machine's ``test``
databases); their tables are dropped and recreated.

Targets (issue 4), SQLite file in WAL mode: >= 100k renews/s with batched flushing; a flush of
10k dirty leases <= 60 ms; register and cancel written through >= 2k/s.
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from bench.bench_registry import make_instance
from bench.rounds import Spread, heading, interleaved, ratio, rounds_argument, row, target
from eureka_embed.registry import Registry
from eureka_embed.storage import MemoryStore, Store
from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_schema import metadata

DEFAULT_POSTGRES = os.environ.get(
    "EUREKA_EMBED_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DEFAULT_MARIADB = os.environ.get(
    "EUREKA_EMBED_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test"
)


def fresh_sql(url: str) -> Callable[[], Store]:
    def factory() -> Store:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            metadata.drop_all(conn)
            conn.execute(sa.text("DROP TABLE IF EXISTS eureka_alembic_version"))
        engine.dispose()
        return SqlStore(url, migrate_schema=True, background=False)

    return factory


def reachable(url: str) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect():
            return True
    except Exception:
        return False
    finally:
        engine.dispose()


@dataclass
class Filled:
    """A registry of ``instances`` over one store, and what its rounds measured."""

    store: Store
    registry: Registry
    keys: list[tuple[str, str]]
    writes: int
    _fresh: Iterator[int]
    renew_rate: list[float] = field(default_factory=list)
    flush_ms: list[float] = field(default_factory=list)
    write_rate: list[float] = field(default_factory=list)

    def round(self) -> None:
        """Renew every lease (three times), flush them, write register+cancel pairs."""
        passes = 3  # a single pass over 10k leases is over in ~15 ms: too short to time well
        start = time.perf_counter()
        for _ in range(passes):
            for app, instance_id in self.keys:
                self.registry.renew(app, instance_id)
        self.renew_rate.append(passes * len(self.keys) / (time.perf_counter() - start))
        # Every lease is dirty now: the flush writes all of them in one batch.
        start = time.perf_counter()
        self.store.flush()
        self.flush_ms.append((time.perf_counter() - start) * 1000)

        churn = [make_instance(next(self._fresh)) for _ in range(self.writes)]
        start = time.perf_counter()
        for info in churn:
            self.registry.register(info)
        for info in churn:
            self.registry.cancel(info.app, info.instance_id)
        self.write_rate.append(2 * self.writes / (time.perf_counter() - start))


@contextmanager
def filled(factory: Callable[[], Store], instances: int, writes: int) -> Iterator[Filled]:
    store = factory()
    registry = Registry(store)
    try:
        keys = []
        for n in range(instances):
            stored = registry.register(make_instance(n))
            keys.append((stored.app, stored.instance_id))
        store.flush()
        yield Filled(store, registry, keys, writes, itertools.count(instances))
    finally:
        store.close()


def report(name: str, figures: Filled, baseline: Filled) -> None:
    # The targets are for the SQLite file; the other stores' figures are for comparison.
    sqlite = name.startswith("sqlite")

    def goal(text: str, met: bool) -> str:
        return target(text, met) if sqlite else ""

    renew, writes = Spread.of(figures.renew_rate), Spread.of(figures.write_rate)
    print(f"{name}:")
    row("renew (renews/s)", renew.show(), goal(">= 100,000", renew.median >= 100_000))
    if figures is not baseline:
        row("renew vs memory", ratio(figures.renew_rate, baseline.renew_rate).show(".2f"))
        flush = Spread.of(figures.flush_ms)
        row("flush of the dirty leases (ms)", flush.show(".1f"), goal("<= 60", flush.median <= 60))
    row(
        "register + cancel written through (/s)",
        writes.show(),
        goal(">= 2,000", writes.median >= 2000),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=200, help="register+cancel pairs a round")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--mariadb", default=DEFAULT_MARIADB)
    rounds_argument(parser)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        factories: list[tuple[str, Callable[[], Store]]] = [
            ("memory (baseline)", MemoryStore),
            ("sqlite file, WAL", fresh_sql(f"sqlite:///{Path(tmp) / 'bench.db'}")),
        ]
        for name, url in (("postgresql", args.postgres), ("mariadb", args.mariadb)):
            if reachable(url):
                factories.append((name, fresh_sql(url)))
            else:
                print(f"({name} not reachable at {sa.make_url(url).render_as_string()}: skipped)")
        stores = {
            name: stack.enter_context(filled(factory, args.instances, args.writes))
            for name, factory in factories
        }
        interleaved({name: store.round for name, store in stores.items()}, args.rounds)

    heading(
        f"{args.instances} instances; per round and store: renew all, flush, "
        f"{args.writes} register+cancel pairs",
        args.rounds,
    )
    baseline = stores["memory (baseline)"]
    for name, figures in stores.items():
        report(name, figures, baseline)


if __name__ == "__main__":
    main()
