"""SQL store benchmarks: renew throughput, flush of dirty leases, write-through register/cancel.

Run: ``python bench/bench_sql.py [--postgres URL] [--mariadb URL]``. Each database's figures
are printed beside the memory store's, measured in the same run as the baseline. PostgreSQL and
MariaDB are measured when reachable (defaults: this machine's test databases); their tables are
dropped and recreated.

Targets (issue 4), SQLite file in WAL mode: >= 100k renews/s with batched flushing; a flush of
10k dirty leases <= 60 ms; register and cancel written through >= 2k/s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from bench.bench_registry import make_instance
from eureka_embed.registry import Registry
from eureka_embed.storage import MemoryStore, Store
from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_schema import metadata

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_MARIADB = "mysql+pymysql://root@127.0.0.1:3306/test"


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


def measure(factory: Callable[[], Store], instances: int, writes: int) -> dict[str, float]:
    store = factory()
    registry = Registry(store)
    keys = []
    start = time.perf_counter()
    for n in range(instances):
        stored = registry.register(make_instance(n))
        keys.append((stored.app, stored.instance_id))
    register_rate = instances / (time.perf_counter() - start)

    best_renew = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for app, instance_id in keys:
            registry.renew(app, instance_id)
        best_renew = max(best_renew, len(keys) / (time.perf_counter() - start))
    # Every lease is dirty now: the flush writes all of them in one batch.
    start = time.perf_counter()
    store.flush()
    flush_ms = (time.perf_counter() - start) * 1000

    churn = [make_instance(instances + n) for n in range(writes)]
    start = time.perf_counter()
    for info in churn:
        registry.register(info)
    for info in churn:
        registry.cancel(info.app, info.instance_id)
    write_rate = 2 * writes / (time.perf_counter() - start)
    store.close()
    return {
        "renew/s": best_renew,
        "flush ms": flush_ms,
        "register+cancel/s": write_rate,
        "initial register/s": register_rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=1_000)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--mariadb", default=DEFAULT_MARIADB)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        targets: list[tuple[str, Callable[[], Store]]] = [
            ("memory (baseline)", MemoryStore),
            ("sqlite file, WAL", fresh_sql(f"sqlite:///{Path(tmp) / 'bench.db'}")),
        ]
        for name, url in (("postgresql", args.postgres), ("mariadb", args.mariadb)):
            if reachable(url):
                targets.append((name, fresh_sql(url)))
            else:
                print(f"({name} not reachable at {url}: skipped)")
        results = {name: measure(factory, args.instances, args.writes) for name, factory in targets}

    baseline = results["memory (baseline)"]
    print(f"{args.instances} instances, {args.writes} register+cancel pairs")
    header = f"{'store':<20}{'renew/s':>14}{'vs memory':>11}{'flush 10k':>12}{'reg+cancel/s':>14}"
    print(header)
    for name, figures in results.items():
        ratio = figures["renew/s"] / baseline["renew/s"]
        flush = "-" if name.startswith("memory") else f"{figures['flush ms']:.1f} ms"
        print(
            f"{name:<20}{figures['renew/s']:>14,.0f}{ratio:>11.2f}{flush:>12}"
            f"{figures['register+cancel/s']:>14,.0f}"
        )
    print("targets (sqlite): renew >= 100,000/s; flush 10k <= 60 ms; register+cancel >= 2,000/s")


if __name__ == "__main__":
    main()
