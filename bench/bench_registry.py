"""In-process registry benchmarks: renew throughput, memory per registered instance, and how
the apps hashcode, a delta and an eviction pass scale with the registry (``--scaling``).

Run: ``python bench/bench_registry.py`` (about 15 s); ``--scaling`` adds the scaling table
(1k, 10k, 50k, 100k instances, each point in a fresh process, a few minutes). Prints figures,
and the ratio against a baseline measured in the same rounds: a bare dict-plus-lock renew
(look the lease up under a lock and stamp the clock), which is the least any thread-safe
registry must do per heartbeat.
Renew figures are medians (min-max) over interleaved rounds (``bench/rounds.py``); memory is
counted by tracemalloc, the same in every run, so it is measured once.

Targets (issue 2): >= 300k renews/s, >= 40 % of the bare baseline, <= 1.5 KB per instance.
Targets (issue 12): a delta of 100 changes at 100k instances built in <= 5 ms (the hashcode's
part of it O(1)), an eviction pass at 100k with 15 % expired in <= 100 ms. The scaling rows
compare with the code before issue 12, measured in the same rounds: the hashcode counted from
every record, and eviction scanning every lease (the Store defaults, which still do that).
The renew figure renews each lease at a later millisecond than its last, so every renewal
moves the lease to another expiry bucket, as heartbeats 30 s apart do.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable

from bench.rounds import (
    Spread,
    heading,
    interleaved,
    median_time,
    ratio,
    rounds_argument,
    row,
    target,
)
from eureka_embed.clock import ManualClock, system_clock
from eureka_embed.config import RegistryConfig
from eureka_embed.model import Applications, InstanceInfo, InstanceStatus, LeaseInfo, PortInfo
from eureka_embed.model import apps_hashcode as counted_hashcode
from eureka_embed.registry import Registry
from eureka_embed.storage import MemoryStore, Store
from eureka_embed.storage.base import ExpiredLeases, LeaseRecord


def make_instance(n: int) -> InstanceInfo:
    app = f"APP{n % 200}"
    return InstanceInfo(
        instance_id=f"host{n}.example.internal:{app.lower()}:8080",
        app=app,
        host_name=f"host{n}.example.internal",
        ip_addr=f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
        port=PortInfo(8080, True),
        vip_address=app.lower(),
        lease_info=LeaseInfo(),
        metadata={"zone": "zone-a"},
        home_page_url=f"http://host{n}.example.internal:8080/",
        status_page_url=f"http://host{n}.example.internal:8080/info",
        health_check_url=f"http://host{n}.example.internal:8080/health",
        last_dirty_timestamp=1_700_000_000_000 + n,
    )


class _BareLease:
    __slots__ = ("last_renewal_ms",)

    def __init__(self) -> None:
        self.last_renewal_ms = 0


def bare_renew_fn(
    keys: list[tuple[str, str]], clock: ManualClock | None = None
) -> Callable[[str, str], bool]:
    leases = {key: _BareLease() for key in keys}
    lock = threading.Lock()
    now_ms = (clock or system_clock).now_ms

    def renew(app: str, instance_id: str) -> bool:
        with lock:
            lease = leases.get((app, instance_id))
            if lease is None:
                return False
            lease.last_renewal_ms = now_ms()
            return True

    return renew


def renews_per_second(
    renew: Callable[[str, str], object], keys: list[tuple[str, str]], clock: ManualClock
) -> float:
    passes = 5
    start = time.perf_counter()
    for _ in range(passes):
        clock.advance(seconds=30)  # a heartbeat interval: every lease changes expiry bucket
        for app, instance_id in keys:
            renew(app, instance_id)
    return passes * len(keys) / (time.perf_counter() - start)


class UnindexedRenewStore(MemoryStore):
    """A memory store renewing as before issue 12: the renewal time stamped, no expiry bucket
    moved. The baseline of what the expiry index costs a heartbeat."""

    def renew(self, app: str, instance_id: str, now_ms: int) -> LeaseRecord | None:
        with self._lock:
            record = self._index.get(app, instance_id)
            if record is not None and now_ms > record.last_renewal_ms:
                record.last_renewal_ms = now_ms
            return record


def bench_renew(store_factory: Callable[[], Store], instances: int, rounds: int) -> None:
    clock = ManualClock()
    registry = Registry(store_factory(), clock=clock)
    unindexed = Registry(UnindexedRenewStore(), clock=clock)
    keys = []
    for n in range(instances):
        stored = registry.register(make_instance(n))
        unindexed.register(make_instance(n))
        keys.append((stored.app, stored.instance_id))
    bare = bare_renew_fn(keys, clock)
    rates = interleaved(
        {
            "ours": lambda: renews_per_second(registry.renew, keys, clock),
            "bare": lambda: renews_per_second(bare, keys, clock),
            "unindexed": lambda: renews_per_second(unindexed.renew, keys, clock),
        },
        rounds,
    )
    registry.store.close()  # made here, given to the registry: not the registry's to close
    unindexed.store.close()
    ours, against_bare = Spread.of(rates["ours"]), ratio(rates["ours"], rates["bare"])
    against_unindexed = ratio(rates["ours"], rates["unindexed"])
    heading(f"renew, {instances} instances, {type(registry.store).__name__}", rounds)
    row("ours (renews/s)", ours.show(), target(">= 300,000", ours.median >= 300_000))
    row("bare dict+lock, the baseline (renews/s)", Spread.of(rates["bare"]).show())
    row("ours / bare", against_bare.show(".2f"), target(">= 0.40", against_bare.median >= 0.40))
    row("renew without the expiry index (renews/s)", Spread.of(rates["unindexed"]).show())
    row(
        "ours / without the expiry index",
        against_unindexed.show(".2f"),
        target(">= 0.90", against_unindexed.median >= 0.90),
    )


def bench_memory(instances: int) -> None:
    # The instances are built inside the measurement: a registry holds what clients send.
    gc.collect()
    tracemalloc.start()
    registry = Registry(MemoryStore())
    before, _ = tracemalloc.get_traced_memory()
    for n in range(instances):
        registry.register(make_instance(n))
    gc.collect()
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    per_instance = (after - before) / instances
    print(f"memory, {instances} instances (instances, leases, change log, indexes), measured once:")
    row("per instance (bytes)", f"{per_instance:,.0f}", target("<= 1,536", per_instance <= 1536))
    registry.close()


class FullScanStore(MemoryStore):
    """The baseline of eviction: a memory store that answers it by scanning every lease."""

    def expired(self, before_ms: int) -> ExpiredLeases:
        return Store.expired(self, before_ms)


def counted_delta(registry: Registry) -> Applications:
    """The baseline of a delta: built as before issue 12, the hashcode counted from every
    record of a full snapshot."""
    since = registry.clock.now_ms() - registry.config.delta_retention_ms
    snapshot = registry.store.snapshot_since(since)
    latest: dict[tuple[str, str], InstanceInfo] = {}
    for change in snapshot.changes:
        latest.pop(change.key, None)
        latest[change.key] = change.instance
    hashcode = counted_hashcode(r.instance for r in snapshot.records)
    return Applications.of(latest.values(), version=str(snapshot.sequence), hashcode=hashcode)


def _filled(store: Store, instances: int, clock: ManualClock) -> Registry:
    # No self-preservation and a long eviction interval: each pass evicts what expired,
    # without lateness added.
    config = RegistryConfig(self_preservation=False, eviction_interval_ms=3_600_000)
    registry = Registry(store, config, clock)
    for n in range(instances):
        registry.register(make_instance(n))
    return registry


def scaling_point(instances: int, rounds: int) -> dict[str, dict[str, list[float]]]:
    """One point of the scaling table (run in a process of its own): seconds per call."""
    clock = ManualClock()
    ours, full_scan = (
        _filled(MemoryStore(), instances, clock),
        _filled(FullScanStore(), instances, clock),
    )
    # 100 changes inside the delta window, the registrations themselves outside it.
    clock.advance(seconds=600)
    for registry in (ours, full_scan):
        registry.prune_changes()
        for n in range(100):
            instance = make_instance(n)
            registry.update_status(instance.app, instance.instance_id, InstanceStatus.DOWN)
            registry.update_status(instance.app, instance.instance_id, InstanceStatus.UP)
    results: dict[str, dict[str, list[float]]] = {}
    results["hashcode"] = interleaved(
        {
            "ours": lambda: median_time(ours.apps_hashcode, 21),
            "base": lambda: median_time(
                lambda: counted_hashcode(r.instance for r in ours.store.snapshot().records), 5
            ),
        },
        rounds,
    )
    results["delta"] = interleaved(
        {
            "ours": lambda: median_time(ours.get_delta, 11),
            "base": lambda: median_time(lambda: counted_delta(ours), 5),
        },
        rounds,
    )
    doomed = instances * 15 // 100  # 15 % stop renewing: exactly the cap, so none is sampled

    def eviction(registry: Registry) -> float:
        for n in range(doomed):
            registry.register(make_instance(n))
        clock.advance(seconds=60)
        for n in range(doomed, instances):
            instance = make_instance(n)
            registry.renew(instance.app, instance.instance_id)
        clock.advance(seconds=31)  # 91 s since the doomed renewed, 31 s for the others
        start = time.perf_counter()
        evicted = registry.evict()
        took = time.perf_counter() - start
        assert len(evicted) == doomed, (len(evicted), doomed)
        return took

    results["eviction"] = interleaved(
        {"ours": lambda: eviction(ours), "base": lambda: eviction(full_scan)}, rounds
    )
    return results


SCALING_SIZES = (1_000, 10_000, 50_000, 100_000)
_SCALING_ROWS = {
    "hashcode": "apps_hashcode (ms)",
    "delta": "delta of 100 changes, built (ms)",
    "eviction": "eviction pass, 15 % expired (ms)",
}


def growth_exponent(sizes: tuple[int, ...], times: list[float]) -> float:
    """The slope of log(time) against log(n), fitted by least squares."""
    xs, ys = [math.log(n) for n in sizes], [math.log(t) for t in times]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def bench_scaling(rounds: int) -> None:
    points = {}
    for size in SCALING_SIZES:
        # A fresh process per point: no point inherits another's heap or garbage.
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.bench_registry",
                "--point",
                str(size),
                "--rounds",
                str(rounds),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        points[size] = json.loads(out)
    heading("scaling, memory store, ms (each point a fresh process)", rounds)
    print("  " + " | ".join(["figure", *(f"{n:,}" for n in SCALING_SIZES), "growth"]))
    for key, label in _SCALING_ROWS.items():
        for subject, name in (("ours", label), ("base", f"{label}, before issue 12")):
            spreads = [Spread.of(points[n][key][subject]) for n in SCALING_SIZES]
            exponent = growth_exponent(SCALING_SIZES, [s.median for s in spreads])
            cells = [s.show(".3g", scale=1000) for s in spreads]
            print("  " + " | ".join([name, *cells, f"n^{exponent:.2f}"]))
    delta = Spread.of(points[100_000]["delta"]["ours"]).median * 1000
    evict = Spread.of(points[100_000]["eviction"]["ours"]).median * 1000
    row("delta of 100 changes at 100k (ms)", f"{delta:.2f}", target("<= 5", delta <= 5))
    row("eviction pass at 100k, 15 % expired (ms)", f"{evict:.1f}", target("<= 100", evict <= 100))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--memory-instances", type=int, default=50_000)
    parser.add_argument("--scaling", action="store_true", help="also the scaling table")
    parser.add_argument("--only-scaling", action="store_true", help="only the scaling table")
    parser.add_argument("--point", type=int, help=argparse.SUPPRESS)  # one scaling point
    rounds_argument(parser, default=7)
    args = parser.parse_args()
    if args.point:
        print(json.dumps(scaling_point(args.point, args.rounds)))
        return
    if not args.only_scaling:
        bench_renew(MemoryStore, args.instances, args.rounds)
        bench_memory(args.memory_instances)
    if args.scaling or args.only_scaling:
        bench_scaling(args.rounds)


if __name__ == "__main__":
    main()
