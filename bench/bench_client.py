"""Client benchmarks: applying registries and deltas to the local cache, CPU per heartbeat.

Run: ``python bench/bench_client.py`` (about a minute). Every figure is the median (min-max) of
interleaved rounds (``bench/rounds.py``); each group of figures runs in its own rounds, with
its baseline in the same rounds:

- full registry of ``--instances`` (10k): decoding the JSON payload (against the baseline of
  a bare ``orjson.loads`` of the same bytes, the least any client must spend), applying the
  decoded registry to the client cache (first time, and again unchanged, which includes the
  change detection); then a whole ``DiscoveryClient.refresh()`` through the HTTP client stack
  over a mock transport (decode + apply, no sockets);
- a delta of ``--changes`` (100) status changes: decoding it (against a bare ``orjson.loads``),
  and merging it into the 10k cache (with the hashcode check);
- decode scaling (``--scaling``, 1k 10k 50k 100k): the full registry decoded as a first fetch
  (nothing to reuse), as a second fetch with 1 % of the instances changed (reusing the rest,
  as the REST client does), and a bare ``orjson.loads`` of the same bytes, in the same rounds;
  per instance and in total, with the growth exponent (least-squares slope of log time over
  log n). XML: the first fetch at 10k only (``--xml``);
- client CPU (``time.process_time``) per heartbeat: through the in-process client, and through
  the full HTTP stack (sessioned, retrying, redirecting, metrics, REST, urllib3) against an
  ``eureka-embed serve`` child process, so the server's CPU is not counted; against the
  baseline of the same PUT sent by a bare ``http.client`` keep-alive connection.
"""

from __future__ import annotations

import argparse
import functools
import gc
import http.client
import math
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

import orjson

from bench.rounds import (
    Spread,
    heading,
    interleaved,
    median_time,
    ratio,
    rounds_argument,
    row,
)
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
from eureka_embed.codec import (
    DecodedInstances,
    WireFormat,
    decode_applications,
    encode_applications,
)
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


def ms(spread: Spread) -> str:
    return spread.show(".2f", scale=1000)


def bench_full_registry(instances: list[InstanceInfo], rounds: int) -> None:
    apps = Applications.of(instances)
    payload = encode_applications(apps, WireFormat.JSON)
    decoded = decode_applications(payload, WireFormat.JSON)
    cache = RegistryCache()
    cache.replace(decoded)
    # Equal registries made of other objects, alternated: each apply compares every instance.
    copies = [decode_applications(payload, WireFormat.JSON), decoded]
    applied: list[bool] = []

    def apply_unchanged() -> None:
        applied.append(cache.replace(copies[0]))
        copies.reverse()

    def answer(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, {"content-type": "application/json"}, payload)

    clock = ManualClock()
    config = DiscoveryConfig("bench", register_with_eureka=False, service_urls="http://a/eureka/")

    def refresh_over_http_stack() -> None:
        client = DiscoveryClient(
            config,
            scheduler=ManualScheduler(clock),
            clock=clock,
            transport_factory=lambda _endpoint: MockTransport(answer),
        )
        client.refresh()
        client.shutdown()

    subjects: dict[str, Callable[[], object]] = {
        "decode JSON": lambda: decode_applications(payload, WireFormat.JSON),
        "bare orjson.loads (baseline)": lambda: orjson.loads(payload),
        "apply to an empty cache": lambda: RegistryCache().replace(decoded),
        "apply again, unchanged (compares all)": apply_unchanged,
        "DiscoveryClient full fetch (mock transport)": refresh_over_http_stack,
    }
    times = interleaved({name: _timer(run, 1) for name, run in subjects.items()}, rounds)
    assert not any(applied), "an equal registry is no change"

    heading(
        f"full registry: {len(instances)} instances, {len(payload) / 1e6:.1f} MB of JSON", rounds
    )
    for name in subjects:
        row(f"{name}, ms", ms(Spread.of(times[name])))
    decode_vs_bare = ratio(times["decode JSON"], times["bare orjson.loads (baseline)"])
    row("decode / bare orjson.loads (cost, x)", decode_vs_bare.show(".1f"))


def _timer(run: Callable[[], object], repeat: int) -> Callable[[], float]:
    return lambda: median_time(run, repeat)


def bench_delta(instances: list[InstanceInfo], changes: int, rounds: int) -> None:
    cache = RegistryCache()
    cache.replace(Applications.of(instances))
    current = {i.instance_id: i for i in instances}
    step = len(instances) // changes
    merges_per_round = 4
    deltas: list[Applications] = []
    # Alternate DOWN and UP so every delta really changes the cache.
    for round_ in range(rounds * merges_per_round):
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
    pending: Iterator[Applications] = iter(deltas)
    consistent: list[bool] = []

    def merge() -> None:
        consistent.append(cache.apply_delta(next(pending)).consistent)

    subjects = {
        "decode JSON": _timer(lambda: decode_applications(payload, WireFormat.JSON), 20),
        "bare orjson.loads (baseline)": _timer(lambda: orjson.loads(payload), 20),
        f"merge + hashcode check, into {len(instances)}": _timer(merge, merges_per_round),
    }
    times = interleaved(subjects, rounds)
    assert all(consistent), "every merge must reconcile"

    heading(f"delta: {changes} changes, {len(payload) / 1e3:.0f} kB of JSON", rounds)
    for name in subjects:
        row(f"{name}, ms", ms(Spread.of(times[name])))
    decode_vs_bare = ratio(times["decode JSON"], times["bare orjson.loads (baseline)"])
    row("decode / bare orjson.loads (cost, x)", decode_vs_bare.show(".1f"))


def bench_decode_scaling(sizes: list[int], rounds: int, *, xml: bool) -> None:
    """Full registry decode at each size: first fetch, second fetch with 1 % changed, orjson."""
    medians: dict[str, list[float]] = {}
    for n in sizes:
        for name, median in _decode_at(n, rounds, xml=xml and n == 10_000).items():
            medians.setdefault(name, []).append(median)
    if len(sizes) > 1:
        heading("growth exponent (slope of log median time over log n)", rounds)
        for name, values in medians.items():
            if len(values) == len(sizes):
                row(name, f"{_slope(sizes, values):.2f}")


def _decode_at(n: int, rounds: int, *, xml: bool) -> dict[str, float]:
    instances = [make_instance(k) for k in range(n)]
    payload = encode_applications(Applications.of(instances), WireFormat.JSON)
    changed = list(instances)
    every = range(0, n, 100)  # 1 %, spread over the applications
    for k in every:
        changed[k] = changed[k].evolve(
            status=InstanceStatus.DOWN, last_dirty_timestamp=changed[k].last_dirty_timestamp + 1
        )
    changed_payload = encode_applications(Applications.of(changed), WireFormat.JSON)
    # What a client really sees 30 s later: every lease renewed (heartbeats move
    # lastRenewalTimestamp), and the same 1 % changed.
    renewed = [
        i.evolve(lease_info=i.lease_info.evolve(last_renewal_timestamp=1_700_000_030_000))
        for i in changed
    ]
    renewed_payload = encode_applications(Applications.of(renewed), WireFormat.JSON)

    def second_fetch() -> float:
        memo = DecodedInstances()
        decode_applications(payload, WireFormat.JSON, reuse=memo)  # the first: not timed
        started = time.perf_counter()
        decode_applications(changed_payload, WireFormat.JSON, reuse=memo)
        took = time.perf_counter() - started
        assert memo.reused == n - len(every), "every unchanged instance is reused"
        return took

    def second_fetch_leases_renewed() -> float:
        memo = DecodedInstances()
        decode_applications(payload, WireFormat.JSON, reuse=memo)  # the first: not timed
        started = time.perf_counter()
        decode_applications(renewed_payload, WireFormat.JSON, reuse=memo)
        took = time.perf_counter() - started
        assert memo.relet == n - len(every), "the rest of every unchanged instance is reused"
        return took

    def first_fetch_and_its_collection() -> None:
        # The decode holds automatic collection off (codec/bulk.py): this adds the young
        # collection it leaves for later, which examines what it made once.
        decode_applications(payload, WireFormat.JSON)
        gc.collect(1)

    subjects: dict[str, Callable[[], float]] = {
        "first fetch": _timer(lambda: decode_applications(payload, WireFormat.JSON), 1),
        "first fetch + the collection it defers": _timer(first_fetch_and_its_collection, 1),
        "second fetch, 1 % changed": second_fetch,
        "second fetch, 1 % changed, every lease renewed": second_fetch_leases_renewed,
        "bare orjson.loads (baseline)": _timer(lambda: orjson.loads(payload), 1),
    }
    if xml:
        xml_payload = encode_applications(Applications.of(instances), WireFormat.XML)
        subjects["first fetch, XML"] = _timer(
            lambda: decode_applications(xml_payload, WireFormat.XML), 1
        )
    times = interleaved(subjects, rounds)
    heading(f"full registry decode: {n} instances, {len(payload) / 1e6:.1f} MB JSON", rounds)
    for name, values in times.items():
        row(f"{name}, ms", ms(Spread.of(values)))
        row(f"{name}, us per instance", Spread.of(v / n for v in values).show(".1f", scale=1e6))
    baseline = times["bare orjson.loads (baseline)"]
    for name in (
        "first fetch",
        "first fetch + the collection it defers",
        "second fetch, 1 % changed",
        "second fetch, 1 % changed, every lease renewed",
    ):
        row(f"{name} / bare orjson.loads (x)", ratio(times[name], baseline).show(".2f"))
    return {name: Spread.of(values).median for name, values in times.items()}


def _slope(sizes: list[int], values: list[float]) -> float:
    xs = [math.log(n) for n in sizes]
    ys = [math.log(v) for v in values]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    return covariance / sum((x - mean_x) ** 2 for x in xs)


def per_heartbeat_us(heartbeat: Callable[[], object], beats: int) -> tuple[float, float]:
    """Client CPU and wall time per heartbeat, in microseconds, over ``beats`` heartbeats."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(beats):
        heartbeat()
    return (
        (time.process_time() - cpu) / beats * 1e6,
        (time.perf_counter() - wall) / beats * 1e6,
    )


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


def bench_heartbeats(beats: int, rounds: int) -> None:
    me = make_instance(0)
    registry = Registry()
    in_process = InProcessEurekaClient(registry)
    in_process.register(me)

    with serve_child() as base_url, registration_client(base_url) as client:
        client.register(me)

        def stack_beat() -> None:
            if client.send_heartbeat(me.app, me.instance_id, instance=me).status != 200:
                raise RuntimeError("heartbeat refused")

        parts = urlsplit(base_url)
        assert parts.hostname is not None and parts.port is not None
        bare = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        bare_path = (
            f"{parts.path.rstrip('/')}/apps/{me.app}/{quote(me.instance_id, safe='')}"
            f"?status=UP&lastDirtyTimestamp={me.last_dirty_timestamp}"
        )

        def bare_beat() -> None:
            bare.request("PUT", bare_path, headers={"Accept": "application/json"})
            answer = bare.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"heartbeat refused: {answer.status}")

        subjects: dict[str, Callable[[], object]] = {
            "in-process client": lambda: in_process.send_heartbeat(
                me.app, me.instance_id, instance=me
            ),
            "HTTP stack, server elsewhere": stack_beat,
            "bare http.client keep-alive (baseline)": bare_beat,
        }
        for beat in subjects.values():  # warm up: connections, caches
            for _ in range(100):
                beat()
        found = interleaved(
            {
                name: functools.partial(per_heartbeat_us, beat, beats)
                for name, beat in subjects.items()
            },
            rounds,
        )
        bare.close()

    heading(f"heartbeats: {beats} a round, client CPU (process_time) per heartbeat", rounds)
    cpu = {name: [c for c, _ in figures] for name, figures in found.items()}
    for name in subjects:
        row(f"{name}, us CPU", Spread.of(cpu[name]).show(".1f"))
    stack, baseline = "HTTP stack, server elsewhere", "bare http.client keep-alive (baseline)"
    row("HTTP stack / bare http.client (CPU, x)", ratio(cpu[stack], cpu[baseline]).show(".2f"))
    for name in (stack, baseline):
        row(f"{name}, round trip us", Spread.of(w for _, w in found[name]).show())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--heartbeats", type=int, default=1_000, help="per round and client")
    parser.add_argument(
        "--scaling",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1_000, 10_000, 50_000, 100_000],
        help="registry sizes for the decode scaling rows (comma-separated)",
    )
    parser.add_argument("--only-scaling", action="store_true", help="skip the other groups")
    parser.add_argument("--xml", action="store_true", help="also XML decode at 10k")
    rounds_argument(parser)
    args = parser.parse_args()
    bench_decode_scaling(args.scaling, args.rounds, xml=args.xml)
    if args.only_scaling:
        return
    instances = [make_instance(n) for n in range(args.instances)]
    bench_full_registry(instances, args.rounds)
    bench_delta(instances, args.changes, args.rounds)
    bench_heartbeats(args.heartbeats, args.rounds)


if __name__ == "__main__":
    main()
