"""Memory after a burst (issue 12: RSS five minutes after a deploy storm <= 1.3x its level
before): cached encodings hold only their own bytes, and the maintenance runner hands freed
heap pages back to the system after a pass that dropped a storm's worth."""

from __future__ import annotations

import ctypes
import gc
import sys
import threading
import tracemalloc

import pytest

from eureka_embed.clock import ManualClock
from eureka_embed.codec import jsoncodec
from eureka_embed.maintenance import MaintenanceRunner
from eureka_embed.memory_release import RELEASE_AFTER, release_free_memory
from eureka_embed.registry import Registry
from tests.registry.helpers import instance


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def glibc() -> bool:
    try:
        ctypes.CDLL(None).malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return False
    return sys.platform.startswith("linux")


def test_an_instance_encoding_holds_about_its_own_size() -> None:
    made = [instance(n) for n in range(500)]
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        kept = [jsoncodec.instance_bytes(i) for i in made]
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = sum(len(k) for k in kept) / len(kept)
    # orjson's own buffer is at least 8 KiB per result, whatever the document's size.
    assert (held - before) / len(kept) < size + 200


@pytest.mark.skipif(not glibc(), reason="malloc_trim is glibc's (Linux)")
def test_freed_small_allocations_go_back_to_the_system() -> None:
    blocks = [bytes(700) + n.to_bytes(4, "big") for n in range(60_000)]
    kept = blocks[::20]  # what survives the burst pins pages all over the heap
    del blocks
    gc.collect()
    high = rss_kib()
    assert release_free_memory()
    assert rss_kib() < high - 10_000  # most of the 40 MiB comes back
    assert len(kept) == 3_000


class Releases:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.happened = threading.Event()
        monkeypatch.setattr("eureka_embed.maintenance.release_free_memory", self)

    def __call__(self) -> bool:
        self.count += 1
        self.happened.set()
        return True


def storm_pruned(changes: int, monkeypatch: pytest.MonkeyPatch) -> Releases:
    clock = ManualClock()
    registry = Registry(clock=clock)
    for n in range(changes):
        registry.register(instance(n))
    clock.advance(seconds=600)  # all of them out of the delta window
    releases = Releases(monkeypatch)
    runner = MaintenanceRunner(registry, interval_scale=0.0005)  # prune every 15 ms
    with runner:
        for _ in range(100):
            if runner.runs["prune"] >= 2:
                break
            releases.happened.wait(0.02)
    assert runner.runs["prune"] >= 1
    assert runner.releases == releases.count
    return releases


def test_a_prune_of_a_storms_changes_hands_memory_back(monkeypatch: pytest.MonkeyPatch) -> None:
    assert storm_pruned(RELEASE_AFTER, monkeypatch).count == 1  # the next prune drops nothing


def test_a_quiet_minutes_prune_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    assert storm_pruned(RELEASE_AFTER - 1, monkeypatch).count == 0
