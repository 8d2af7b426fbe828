"""In-process registry benchmarks: renew throughput and memory per registered instance.

Run: ``python bench/bench_registry.py`` (about 15 s). Prints figures, and the ratio against a
baseline measured in the same rounds: a bare dict-plus-lock renew (look the lease up under a
lock and stamp the clock), which is the least any thread-safe registry must do per heartbeat.
Renew figures are medians (min-max) over interleaved rounds (``bench/rounds.py``); memory is
counted by tracemalloc, the same in every run, so it is measured once.

Targets (issue 2): >= 300k renews/s, >= 40 % of the bare baseline, <= 1.5 KB per instance.
"""

from __future__ import annotations

import argparse
import gc
import threading
import time
import tracemalloc
from collections.abc import Callable

from bench.rounds import Spread, heading, interleaved, ratio, rounds_argument, row, target
from eureka_embed.clock import system_clock
from eureka_embed.model import InstanceInfo, LeaseInfo, PortInfo
from eureka_embed.registry import Registry
from eureka_embed.storage import MemoryStore, Store


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


def bare_renew_fn(keys: list[tuple[str, str]]) -> Callable[[str, str], bool]:
    leases = {key: _BareLease() for key in keys}
    lock = threading.Lock()
    now_ms = system_clock.now_ms

    def renew(app: str, instance_id: str) -> bool:
        with lock:
            lease = leases.get((app, instance_id))
            if lease is None:
                return False
            lease.last_renewal_ms = now_ms()
            return True

    return renew


def renews_per_second(renew: Callable[[str, str], object], keys: list[tuple[str, str]]) -> float:
    passes = 5
    start = time.perf_counter()
    for _ in range(passes):
        for app, instance_id in keys:
            renew(app, instance_id)
    return passes * len(keys) / (time.perf_counter() - start)


def bench_renew(store_factory: Callable[[], Store], instances: int, rounds: int) -> None:
    registry = Registry(store_factory())
    keys = []
    for n in range(instances):
        stored = registry.register(make_instance(n))
        keys.append((stored.app, stored.instance_id))
    bare = bare_renew_fn(keys)
    rates = interleaved(
        {
            "ours": lambda: renews_per_second(registry.renew, keys),
            "bare": lambda: renews_per_second(bare, keys),
        },
        rounds,
    )
    registry.store.close()  # made here, given to the registry: not the registry's to close
    ours, against_bare = Spread.of(rates["ours"]), ratio(rates["ours"], rates["bare"])
    heading(f"renew, {instances} instances, {type(registry.store).__name__}", rounds)
    row("ours (renews/s)", ours.show(), target(">= 300,000", ours.median >= 300_000))
    row("bare dict+lock, the baseline (renews/s)", Spread.of(rates["bare"]).show())
    row("ours / bare", against_bare.show(".2f"), target(">= 0.40", against_bare.median >= 0.40))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--memory-instances", type=int, default=50_000)
    rounds_argument(parser, default=7)
    args = parser.parse_args()
    bench_renew(MemoryStore, args.instances, args.rounds)
    bench_memory(args.memory_instances)


if __name__ == "__main__":
    main()
