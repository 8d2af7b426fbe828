"""What the httpx transport adds to a call: routed by service name vs the chosen URL directly.

Run: ``python bench/bench_httpx_transport.py`` (well under a minute). Two httpx clients share
one inner ``httpx.HTTPTransport`` (the same connection pool): one with
:class:`~eureka_embed.client.httpx.EurekaTransport` in front of it, called as
``http://orders/ping``; the other called at the instance's own URL. The service is a minimal
ASGI app on uvicorn in a child process, over loopback; ORDERS has three registered
instances (round robin), in an in-process registry read by a
:class:`~eureka_embed.client.DiscoveryClient`.

Each round sends ``--requests`` calls through each client, alternated call by call, and takes
each one's p50 wall-clock latency and p50 client CPU time (``time.process_time``, the
client's own work, as ``bench_client.py`` counts it: on a machine shared with other jobs,
every microsecond of CPU shows as several of wall time); the overhead is routed p50 minus
direct p50 in the same round. The
same again with an inner ``httpx.MockTransport`` answering at once, where nothing but the
transport's own work differs (the pure cost, without loopback noise). The two pairs take
turns in interleaved rounds (``bench/rounds.py``).
Target (issue 14): <= 30 us of client overhead added at p50, judged on the client CPU time
over loopback; the wall-clock figure is printed beside it.
"""

from __future__ import annotations

import argparse
import functools
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.rounds import Spread, heading, interleaved, rounds_argument, row, target
from eureka_embed.client import DiscoveryClient, DiscoveryConfig
from eureka_embed.client.httpx import EurekaTransport
from eureka_embed.model import InstanceInfo, InstanceStatus, PortInfo
from eureka_embed.registry import Registry

TARGET_US = 30.0
ROOT = Path(__file__).resolve().parent.parent


async def ping(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The smallest answer an ASGI server can give."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x", b"1")]})
    await send({"type": "http.response.body", "body": b"pong"})


@contextmanager
def _service() -> Iterator[int]:
    """The ping app on uvicorn in a child process (its own GIL, its own core), listening on
    a loopback socket made here; stopped after."""
    sock = socket.create_server(("127.0.0.1", 0))
    # Not ``uvicorn --fd``: it takes the descriptor for a Unix socket, so TCP_NODELAY is never
    # set and every answer waits out a delayed ACK (40 ms).
    script = (
        "import socket, uvicorn; from bench.bench_httpx_transport import ping; "
        "config = uvicorn.Config(ping, log_level='warning', lifespan='off'); "
        f"uvicorn.Server(config).run(sockets=[socket.socket(fileno={sock.fileno()})])"
    )
    child = subprocess.Popen([sys.executable, "-c", script], pass_fds=[sock.fileno()], cwd=ROOT)
    try:
        port = sock.getsockname()[1]
        _wait_serving(port)
        yield port
    finally:
        child.terminate()
        child.wait(10)
        sock.close()


def _wait_serving(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def _discovery(port: int) -> Iterator[DiscoveryClient]:
    registry = Registry()
    for n in range(3):
        registry.register(
            InstanceInfo(
                instance_id=f"orders-{n}",
                app="ORDERS",
                host_name="127.0.0.1",
                ip_addr="127.0.0.1",
                status=InstanceStatus.UP,
                port=PortInfo(port, True),
            )
        )
    config = DiscoveryConfig("bench", register_with_eureka=False, registry_fetch_interval_s=60)
    with DiscoveryClient.in_process(config, registry) as client:
        yield client


@dataclass(frozen=True)
class Paired:
    """One round's p50s (us): wall-clock time per call, and the client's CPU time per call."""

    routed_wall: float
    direct_wall: float
    routed_cpu: float
    direct_cpu: float


def _paired(routed: httpx.Client, direct: httpx.Client, direct_url: str, count: int) -> Paired:
    """``count`` calls each, routed and direct, alternated call by call so that both see the
    same moments of a loaded machine; which goes first swaps every time."""
    wall: dict[str, list[float]] = {"routed": [], "direct": []}
    cpu: dict[str, list[float]] = {"routed": [], "direct": []}
    calls: tuple[tuple[str, Callable[[], httpx.Response]], ...] = (
        ("routed", lambda: routed.get("http://orders/ping")),
        ("direct", lambda: direct.get(direct_url)),
    )
    for n in range(count):
        for name, call in calls if n % 2 else reversed(calls):
            started, started_cpu = time.perf_counter(), time.process_time()
            call()
            cpu[name].append(time.process_time() - started_cpu)
            wall[name].append(time.perf_counter() - started)
    p50 = {
        f"{name}_{kind}": statistics.median(times[name]) * 1e6
        for kind, times in (("wall", wall), ("cpu", cpu))
        for name in ("routed", "direct")
    }
    return Paired(**p50)


def _report(title: str, results: list[Paired], rounds: int) -> tuple[Spread, Spread]:
    heading(title, rounds)
    row("wall p50, routed by name (us)", Spread.of(r.routed_wall for r in results).show(",.1f"))
    row(
        "wall p50, the chosen URL directly (us)",
        Spread.of(r.direct_wall for r in results).show(",.1f"),
    )
    added_wall = Spread.of(r.routed_wall - r.direct_wall for r in results)
    row("wall time added at p50 (us)", added_wall.show(",.1f"))
    row(
        "client CPU p50, routed by name (us)", Spread.of(r.routed_cpu for r in results).show(",.1f")
    )
    row("client CPU p50, directly (us)", Spread.of(r.direct_cpu for r in results).show(",.1f"))
    added_cpu = Spread.of(r.routed_cpu - r.direct_cpu for r in results)
    row("client CPU added at p50 (us)", added_cpu.show(",.1f"))
    return added_wall, added_cpu


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000, help="per subject and round")
    rounds_argument(parser)
    args = parser.parse_args(argv)

    with _service() as port, _discovery(port) as discovery:
        direct_url = f"http://127.0.0.1:{port}/ping"
        clients: list[httpx.Client] = []
        subjects: dict[str, Callable[[], Paired]] = {}
        loopback = httpx.HTTPTransport()
        mock = httpx.MockTransport(lambda request: httpx.Response(200, content=b"pong"))
        for name, inner in (("loopback", loopback), ("mock", mock)):
            # Two clients over one inner transport: the same connection pool for both.
            routed = httpx.Client(transport=EurekaTransport(discovery, inner=inner))
            direct = httpx.Client(transport=inner)
            clients += [routed, direct]
            subjects[name] = functools.partial(_paired, routed, direct, direct_url, args.requests)
        for subject in subjects.values():  # warm up: connections, caches
            subject()
        results = interleaved(subjects, args.rounds)

        added_wall, added_cpu = _report(
            f"httpx over loopback to uvicorn, {args.requests} calls each a round",
            results["loopback"],
            args.rounds,
        )
        met = added_cpu.median <= TARGET_US
        row("", "", target(f"<= {TARGET_US:g} us client overhead at p50 (CPU)", met))
        row("", "", f"(wall time: {'within' if added_wall.median <= TARGET_US else 'over'} it)")
        _report(
            f"httpx over a MockTransport (no I/O), {args.requests} calls each a round",
            results["mock"],
            args.rounds,
        )
        for client in clients:
            client.close()


if __name__ == "__main__":
    main()
