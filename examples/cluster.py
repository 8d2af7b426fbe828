"""A standalone cluster of ``eureka-embed serve`` processes, in either topology.

``peers``: three nodes, each with its own (memory) store, replicating every client write to the
others, as Netflix Eureka's nodes do. The same by hand::

    eureka-embed serve --port 8761 --store memory:// --peer http://127.0.0.1:8762/eureka/ \\
        --peer http://127.0.0.1:8763/eureka/
    # ... and likewise on 8762 and 8763, each naming the other two

``shared-db``: two nodes over one PostgreSQL (or MariaDB) database, no replication: the
database is what they share. The schema is upgraded once first::

    eureka-embed db upgrade --store postgresql+psycopg://postgres@127.0.0.1:5432/eureka
    eureka-embed serve --port 8761 --store postgresql+psycopg://postgres@127.0.0.1:5432/eureka
    eureka-embed serve --port 8762 --store postgresql+psycopg://postgres@127.0.0.1:5432/eureka

Run it::

    python examples/cluster.py peers                  # ports 8761-8763, until Ctrl-C
    python examples/cluster.py shared-db --database postgresql+psycopg://user@host/db
    python examples/cluster.py peers --check          # free ports; register through one node,
    python examples/cluster.py shared-db --check      # see it on the others, stop; exit 0

``--database`` defaults to the ``DATABASE_URL`` environment variable.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import eureka_embed

READY = re.compile(r"eureka-embed serving on (http://\S+)")
JSON = {"Content-Type": "application/json", "Accept": "application/json"}


class Node:
    """One ``python -m eureka_embed serve`` child process; its log lines are collected."""

    def __init__(self, name: str, args: Sequence[str], *, echo: bool) -> None:
        self.name = name
        self.base_url = ""
        self.lines: list[str] = []
        self._echo = echo
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "eureka_embed", "serve", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip())
            self._lines.put(line)
            if self._echo:
                print(f"[{self.name}] {line.rstrip()}", flush=True)
        self._lines.put(None)

    def wait_ready(self, timeout: float = 20.0) -> str:
        """The node's service URL, once it serves; raises RuntimeError if it does not."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                break  # it exited
            if match := READY.search(line):
                self.base_url = match.group(1)
                return self.base_url
        log = "\n".join(self.lines[-20:])
        raise RuntimeError(f"{self.name} did not start serving:\n{log}")

    def stop(self) -> None:
        """SIGTERM (a graceful stop), then SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._reader.join(5)
        assert self.process.stderr is not None
        self.process.stderr.close()


def child_env() -> dict[str, str]:
    """This environment, minus EUREKA_EMBED_* settings (the flags say it all), with this
    eureka_embed importable even from a source tree that was never installed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EUREKA_EMBED_")}
    source = str(Path(eureka_embed.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    return env


def free_ports(count: int) -> list[int]:
    """Ports free at this moment; another process may still take one before a node binds it."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def url_of(port: int) -> str:
    return f"http://127.0.0.1:{port}/eureka/"


def start_nodes(stack: ExitStack, argvs: Sequence[Sequence[str]], *, echo: bool) -> list[Node]:
    """Start every node at once (peers look for each other while starting), then wait."""
    nodes = [Node(f"node-{n + 1}", argv, echo=echo) for n, argv in enumerate(argvs)]
    for node in nodes:
        stack.callback(node.stop)
    for node in nodes:
        node.wait_ready()
    return nodes


@contextmanager
def peers_cluster(ports: Sequence[int], *, echo: bool = False) -> Iterator[list[Node]]:
    """Three (or len(ports)) nodes, each told every node's URL; each skips its own."""
    peer_args = [arg for port in ports for arg in ("--peer", url_of(port))]
    with ExitStack() as stack:
        argvs = [["--port", str(port), "--store", "memory://", *peer_args] for port in ports]
        yield start_nodes(stack, argvs, echo=echo)


@contextmanager
def shared_db_cluster(
    database_url: str, ports: Sequence[int] = (0, 0), *, echo: bool = False
) -> Iterator[list[Node]]:
    """Nodes over one database; its schema is upgraded first, once, by ``db upgrade``."""
    subprocess.run(
        [sys.executable, "-m", "eureka_embed", "db", "upgrade", "--store", database_url],
        check=True,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        timeout=60,
    )
    with ExitStack() as stack:
        argvs = [["--port", str(port), "--store", database_url] for port in ports]
        yield start_nodes(stack, argvs, echo=echo)


# ---------------------------------------------------------------------- the check


def call(url: str, method: str = "GET", body: dict[str, object] | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=JSON)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def registration(instance_id: str) -> dict[str, object]:
    return {
        "instance": {
            "instanceId": instance_id,
            "hostName": "127.0.0.1",
            "app": "CLUSTER-CHECK",
            "ipAddr": "127.0.0.1",
            "status": "UP",
            "port": {"$": 8080, "@enabled": "true"},
            "dataCenterInfo": {
                "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
                "name": "MyOwn",
            },
        }
    }


def wait_everywhere(nodes: Sequence[Node], probe: Callable[[Node], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    for node in nodes:
        while not probe(node):
            if time.monotonic() > deadline:
                raise SystemExit(f"check failed: {what} on {node.name} within 10 s")
            time.sleep(0.05)
        print(f"  {what} on {node.name} ({node.base_url})")


def check(nodes: Sequence[Node]) -> None:
    """Register through the first node, see it on the others, cancel through the last."""
    first, last = nodes[0], nodes[-1]
    instance_id = f"127.0.0.1:cluster-check:{os.getpid()}"
    path = f"apps/CLUSTER-CHECK/{instance_id}"

    def present(node: Node) -> bool:
        return call(node.base_url + path) == 200

    status = call(f"{first.base_url}apps/CLUSTER-CHECK", "POST", registration(instance_id))
    if status != 204:
        raise SystemExit(f"check failed: registration through {first.name} answered {status}")
    print(f"registered {instance_id} through {first.name}")
    wait_everywhere(nodes[1:], present, "visible")

    if call(last.base_url + path, "DELETE") != 200:
        raise SystemExit(f"check failed: cancel through {last.name}")
    print(f"cancelled through {last.name}")
    wait_everywhere(nodes[:-1], lambda node: not present(node), "gone")


@contextmanager
def cluster(
    topology: str, database_url: str | None, ports: Sequence[int], *, echo: bool = False
) -> Iterator[list[Node]]:
    if topology == "peers":
        with peers_cluster(ports, echo=echo) as nodes:
            yield nodes
    else:
        assert database_url is not None
        with shared_db_cluster(database_url, ports, echo=echo) as nodes:
            yield nodes


def run_check(topology: str, database_url: str | None) -> None:
    for attempt in range(3):
        # Peers must know each other's ports before they start, so free ones are picked first;
        # should one be taken meanwhile, that node fails to start and we try new ones.
        ports = free_ports(3) if topology == "peers" else [0, 0]
        try:
            with cluster(topology, database_url, ports) as nodes:
                check(nodes)
                print(f"ok: a {topology} cluster of {len(nodes)} nodes agreed, and stopped")
                return
        except RuntimeError as exc:
            if attempt == 2:
                raise SystemExit(f"check failed: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A cluster of eureka-embed serve processes.")
    parser.add_argument("topology", choices=("peers", "shared-db"))
    parser.add_argument("--check", action="store_true", help="run the story on free ports")
    parser.add_argument(
        "--database",
        metavar="URL",
        default=os.environ.get("DATABASE_URL"),
        help="the shared database for shared-db (default: $DATABASE_URL)",
    )
    args = parser.parse_args(argv)
    if args.topology == "shared-db" and not args.database:
        parser.error("shared-db needs --database URL (or DATABASE_URL)")
    if args.check:
        run_check(args.topology, args.database)
        return 0
    ports = [8761, 8762, 8763] if args.topology == "peers" else [8761, 8762]
    with cluster(args.topology, args.database, ports, echo=True) as nodes:
        print("serving:", " ".join(node.base_url for node in nodes), "(Ctrl-C to stop)")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            # The nodes got the terminal's SIGINT too; let them finish stopping undisturbed.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            print("stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
