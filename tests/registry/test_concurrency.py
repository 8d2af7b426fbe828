"""Many threads writing the same instances: no update may be lost (run against every store)."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable

from eureka_embed.config import RegistryConfig
from eureka_embed.model import InstanceStatus, apps_hashcode
from eureka_embed.registry import Registry, RenewOutcome
from eureka_embed.storage import MemoryStore, Store
from tests.registry.helpers import instance

THREADS = 16
SHARED = 4


def rounds_for(store: Store) -> int:
    # Memory writes take microseconds, SQL writes milliseconds: fewer rounds keep SQL bounded
    # while 16 threads still contend on every instance.
    return 150 if isinstance(store, MemoryStore) else 25


def run_threads(target: Callable[[int], None]) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def guarded(tid: int) -> None:
        try:
            barrier.wait()
            target(tid)
        except BaseException as exc:  # surfaced below: a thread's failure fails the test
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads), "a writer thread hung"
    assert errors == []


def test_concurrent_writes_to_shared_instances_lose_nothing(store: Store) -> None:
    registry = Registry(store, RegistryConfig())
    rounds = rounds_for(store)
    for n in range(SHARED):
        registry.register(instance(n))

    def work(tid: int) -> None:
        rng = random.Random(tid)
        for i in range(rounds):
            n = (tid + i) % SHARED
            iid = instance(n).instance_id
            registry.update_metadata("ORDERS", iid, {f"t{tid}-{i}": str(i)})
            assert registry.renew("ORDERS", iid).outcome is RenewOutcome.OK
            status = rng.choice([InstanceStatus.UP, InstanceStatus.OUT_OF_SERVICE])
            registry.update_status("ORDERS", iid, status)

    run_threads(work)
    apps = registry.get_applications()
    stored = {i.instance_id: i for i in apps.instances()}
    for n in range(SHARED):
        keys = set(stored[instance(n).instance_id].metadata)
        pairs = [(tid, i) for tid in range(THREADS) for i in range(rounds)]
        wanted = {f"t{tid}-{i}" for tid, i in pairs if (tid + i) % SHARED == n}
        assert wanted <= keys, f"{len(wanted - keys)} metadata updates lost on instance {n}"
    assert apps.apps_hashcode == apps_hashcode(stored.values())
    assert registry.apps_hashcode() == apps.apps_hashcode


def test_concurrent_register_and_cancel_keep_counts_consistent(store: Store) -> None:
    registry = Registry(store, RegistryConfig())
    rounds = rounds_for(store)

    def work(tid: int) -> None:
        for i in range(rounds):
            # Every thread fights over the same 8 ids, registering and cancelling them.
            n = i % 8
            registry.register(instance(n, ldt=tid * 1000 + i))
            if (tid + i) % 3 == 0:
                with contextlib.suppress(LookupError):  # another thread cancelled it first
                    registry.cancel("ORDERS", instance(n).instance_id)

    run_threads(work)
    instances = list(registry.get_applications().instances())
    assert store.count() == len(instances)
    assert registry.expected_clients == len(instances) + RegistryConfig().initial_expected_clients
    assert registry.apps_hashcode() == apps_hashcode(instances)
    sequences = [c.sequence for c in store.changes_after(0)]
    assert sequences == sorted(set(sequences))
