"""Client benchmarks: applying registries and deltas to the local cache, CPU per heartbeat.

Run: ``python bench/bench_client.py``. Prints, best of ``--trials``:

- full registry of ``--instances`` (10k): decoding the JSON payload, and applying the decoded
  registry to the client cache (first time, and again unchanged, which includes the change
  detection); then a whole ``DiscoveryClient.refresh()`` through the HTTP client stack over a
  mock transport (decode + apply, no sockets);
- a delta of ``--changes`` (100) status changes: decoding it, and merging it into the 10k cache
  (with the hashcode check);
- client CPU (``time.process_time``) per heartbeat: through the in-process client, and through
  the full HTTP stack (sessioned, retrying, redirecting, metrics, REST, urllib3) against an
  ``eureka-embed serve`` child process, so the server's CPU is not counted.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from eureka_embed.client import (
    DiscoveryClient,
    DiscoveryConfig,
    HttpRequest,
    HttpResponse,
    InProcessEurekaClient,
    ManualScheduler,
    MockTransport,
    registration_client,
)
from eureka_embed.client.cache import RegistryCache
from eureka_embed.clock import ManualClock
from eureka_embed.codec import WireFormat, decode_applications, encode_applications
from eureka_embed.model import (
    ActionType,
    Applications,
    InstanceInfo,
    InstanceStatus,
    LeaseInfo,
    PortInfo,
    apps_hashcode,
)
from eureka_embed.registry import Registry

_READY = re.compile(r"eureka-embed serving on (http://\S+)")


def make_instance(n: int) -> InstanceInfo:
    app = f"APP{n % 200}"
    return InstanceInfo(
        instance_id=f"host{n}.example.internal:{app.lower()}:8080",
        app=app,
        host_name=f"host{n}.example.internal",
        ip_addr=f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
        port=PortInfo(8080, True),
        vip_address=app.lower(),
        lease_info=LeaseInfo(registration_timestamp=1_700_000_000_000),
        metadata={"zone": "zone-a"},
        home_page_url=f"http://host{n}.example.internal:8080/",
        status_page_url=f"http://host{n}.example.internal:8080/info",
        health_check_url=f"http://host{n}.example.internal:8080/health",
        action_type=ActionType.ADDED,
        last_updated_timestamp=1_700_000_000_000,
        last_dirty_timestamp=1_700_000_000_000 + n,
    )


def best_ms(run: Callable[[], object], trials: int) -> float:
    best = float("inf")
    for _ in range(trials):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def report(label: str, value: float, unit: str, note: str = "") -> None:
    print(f"  {label:<32}{value:9.2f} {unit}" + (f"  ({note})" if note else ""))


def decode_ms(payload: bytes, trials: int) -> float:
    return best_ms(lambda: decode_applications(payload, WireFormat.JSON), trials)


def bench_full_registry(instances: list[InstanceInfo], trials: int) -> Applications:
    apps = Applications.of(instances)
    payload = encode_applications(apps, WireFormat.JSON)
    print(f"full registry: {len(instances)} instances, {len(payload) / 1e6:.1f} MB of JSON")
    decoded = decode_applications(payload, WireFormat.JSON)
    report("decode JSON", decode_ms(payload, trials), "ms")

    def apply_fresh() -> None:
        RegistryCache().replace(decoded)

    report("apply to an empty cache", best_ms(apply_fresh, trials), "ms")
    cache = RegistryCache()
    cache.replace(decoded)
    # Equal registries made of other objects, alternated: each apply compares every instance.
    copies = [decode_applications(payload, WireFormat.JSON), decoded]
    applied: list[bool] = []

    def apply_unchanged() -> None:
        applied.append(cache.replace(copies[0]))
        copies.reverse()

    report("apply again, unchanged", best_ms(apply_unchanged, trials), "ms", "compares all")
    assert not any(applied), "an equal registry is no change"

    def answer(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, {"content-type": "application/json"}, payload)

    clock = ManualClock()
    config = DiscoveryConfig("bench", register_with_eureka=False, service_urls="http://a/eureka/")

    def refresh_over_http_stack() -> None:
        client = DiscoveryClient(
            config,
            scheduler=ManualScheduler(clock),
            clock=clock,
            transport_factory=lambda: MockTransport(answer),
        )
        client.refresh()
        client.shutdown()

    report(
        "DiscoveryClient full fetch",
        best_ms(refresh_over_http_stack, trials),
        "ms",
        "HTTP stack over a mock transport: decode + apply",
    )
    return decoded


def bench_delta(instances: list[InstanceInfo], changes: int, trials: int) -> None:
    cache = RegistryCache()
    cache.replace(Applications.of(instances))
    current = {i.instance_id: i for i in instances}
    step = len(instances) // changes
    deltas: list[Applications] = []
    # Alternate DOWN and UP so every delta really changes the cache.
    for round_ in range(trials * 2):
        status = InstanceStatus.DOWN if round_ % 2 == 0 else InstanceStatus.UP
        # Spread over many applications: n x (step + 1) lands in a different app each time.
        changed = [
            instances[n * (step + 1) % len(instances)].evolve(
                status=status, action_type=ActionType.MODIFIED
            )
            for n in range(changes)
        ]
        for instance in changed:
            current[instance.instance_id] = instance
        deltas.append(
            Applications.of(changed, version=str(round_), hashcode=apps_hashcode(current.values()))
        )
    payload = encode_applications(deltas[0], WireFormat.JSON)
    print(f"delta: {changes} changes, {len(payload) / 1e3:.0f} kB of JSON")
    report("decode JSON", decode_ms(payload, trials), "ms")
    pending: Iterator[Applications] = iter(deltas)
    consistent: list[bool] = []

    def merge() -> None:
        consistent.append(cache.apply_delta(next(pending)).consistent)

    report("merge + hashcode check", best_ms(merge, trials * 2), "ms", f"into {len(instances)}")
    assert all(consistent), "every merge must reconcile"


def cpu_per_heartbeat_us(heartbeat: Callable[[], object], beats: int) -> float:
    for _ in range(min(beats, 200)):  # warm up: connections, caches
        heartbeat()
    start = time.process_time()
    for _ in range(beats):
        heartbeat()
    return (time.process_time() - start) / beats * 1e6


@contextmanager
def serve_child() -> Iterator[str]:
    """``eureka-embed serve`` on a free port in a child process; its base URL."""
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "eureka_embed", "serve", "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=root,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            found = _READY.search(line)
            if found:
                yield found.group(1)
                break
        else:
            raise RuntimeError("eureka-embed serve did not start")
    finally:
        process.terminate()
        process.wait(10)
        if process.stderr is not None:
            process.stderr.close()


def bench_heartbeats(beats: int) -> None:
    me = make_instance(0)
    registry = Registry()
    in_process = InProcessEurekaClient(registry)
    in_process.register(me)
    cpu = cpu_per_heartbeat_us(
        lambda: in_process.send_heartbeat(me.app, me.instance_id, instance=me), beats
    )
    print(f"heartbeats: {beats}, client CPU (process_time) per heartbeat")
    report("in-process client", cpu, "us", "client and registry: same process")

    with serve_child() as base_url, registration_client(base_url) as http:
        http.register(me)

        def beat() -> None:
            if http.send_heartbeat(me.app, me.instance_id, instance=me).status != 200:
                raise RuntimeError("heartbeat refused")

        cpu = cpu_per_heartbeat_us(beat, beats)
        wall_start = time.perf_counter()
        for _ in range(200):
            beat()
        wall_us = (time.perf_counter() - wall_start) / 200 * 1e6
        report("HTTP stack, server elsewhere", cpu, "us", f"round trip {wall_us:.0f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--heartbeats", type=int, default=2_000)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    instances = [make_instance(n) for n in range(args.instances)]
    bench_full_registry(instances, args.trials)
    bench_delta(instances, args.changes, args.trials)
    bench_heartbeats(args.heartbeats)


if __name__ == "__main__":
    main()
