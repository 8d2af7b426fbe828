"""A private network of Linux network namespaces, built for one test and always torn down.

Every host is a namespace with two links:

- ``fabric0``, a veth whose other end is a port of a bridge in a hub namespace of its own:
  the network the hosts talk to each other over (peers, the database). :meth:`Network.cut`
  takes the host's bridge port down (the cable pulled out), :meth:`Network.heal` puts it back.
- ``ctl0``, a point-to-point veth to the root namespace: how the test reaches the host. It is
  never cut, so a test can keep writing to a host that its peers cannot reach.

Names carry the test process's pid (``ee<pid>...``), so runs never collide, and what a
crashed run left behind is recognised (its pid is gone) and removed by the next one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.integration.requirements import require
from tests.server.support import LineReader, ServeProcess, child_env

__all__ = ["Host", "NamespacedServe", "Network", "network"]

_PREFIX = "ee"
_OWN = re.compile(rf"^{_PREFIX}(\d+)-")
#: The fabric, inside the namespaces only: it never meets the machine's own routes.
_FABRIC = "10.99.0"
#: The control links live in the root namespace: a /24 of this /16 not in use yet.
_CONTROL = "10.213"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=10)


@dataclass(frozen=True)
class Host:
    name: str
    netns: str
    #: Its address on the fabric (what other hosts reach it at).
    address: str
    #: Its address on its control link (what the test reaches it at).
    control_address: str
    #: The bridge port in the hub namespace that connects it.
    port: str


class Network:
    """Build with :func:`network`; hosts come from :meth:`add_host`."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self.tag = f"{_PREFIX}{os.getpid()}"
        self.hub = f"{self.tag}-hub"
        self.hosts: list[Host] = []
        self._control_net = ""

    def _start(self) -> None:
        self._add_netns(self.hub)
        ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        ip("-n", self.hub, "link", "set", "br0", "up")
        self._control_net = _free_control_net()

    def _add_netns(self, name: str) -> None:
        ip("netns", "add", name)
        # Deleting a namespace deletes the veths in it, and with them their other ends.
        self._stack.callback(ip, "netns", "del", name, check=False)
        ip("-n", name, "link", "set", "lo", "up")

    def add_host(self, name: str) -> Host:
        k = len(self.hosts) + 1
        netns = f"{self.tag}-{name}"
        port = f"p{k}"
        host = Host(
            name,
            netns,
            f"{_FABRIC}.{k}",
            f"{self._control_net}.{4 * k + 2}",
            port,
        )
        self._add_netns(netns)
        ip(
            "link",
            "add",
            "name",
            "fabric0",
            "netns",
            netns,
            "type",
            "veth",
            "peer",
            "name",
            port,
            "netns",
            self.hub,
        )
        ip("-n", self.hub, "link", "set", port, "master", "br0", "up")
        ip("-n", netns, "addr", "add", f"{host.address}/24", "dev", "fabric0")
        ip("-n", netns, "link", "set", "fabric0", "up")
        root_end = f"{self.tag}c{k}"
        ip("link", "add", "name", root_end, "type", "veth", "peer", "name", "ctl0", "netns", netns)
        self._stack.callback(ip, "link", "del", root_end, check=False)
        ip("addr", "add", f"{self._control_net}.{4 * k + 1}/30", "dev", root_end)
        ip("link", "set", root_end, "up")
        ip("-n", netns, "addr", "add", f"{host.control_address}/30", "dev", "ctl0")
        ip("-n", netns, "link", "set", "ctl0", "up")
        self.hosts.append(host)
        return host

    def cut(self, host: Host) -> None:
        ip("-n", self.hub, "link", "set", host.port, "down")

    def heal(self, host: Host) -> None:
        ip("-n", self.hub, "link", "set", host.port, "up")

    def serve(self, host: Host, args: Sequence[str], **options: object) -> NamespacedServe:
        """A started (not yet ready) server in ``host``, stopped before the network goes."""
        process = NamespacedServe(self, host, args, **options)  # type: ignore[arg-type]
        self._stack.callback(process.terminate)
        return process

    def popen(self, host: Host, argv: Sequence[str], **kwargs: object) -> subprocess.Popen[str]:
        """Run ``argv`` in ``host``'s namespace (``ip netns exec`` execs it: same process).

        It gets SIGTERM if this process dies first (``setpriv --pdeathsig``), so even a test
        run killed outright leaves no server behind, and the next run's sweep can then delete
        the namespaces it left.
        """
        command = ["ip", "netns", "exec", host.netns, "setpriv", "--pdeathsig", "TERM", *argv]
        return subprocess.Popen(command, text=True, **kwargs)  # type: ignore[call-overload,no-any-return]


class NamespacedServe(ServeProcess):
    """``eureka-embed serve`` in a host's namespace, on all its addresses at ``port``."""

    def __init__(
        self,
        net: Network,
        host: Host,
        args: Sequence[str],
        *,
        port: int = 8761,
        env: Mapping[str, str] | None = None,
    ) -> None:
        command = [sys.executable, "-m", "eureka_embed", "serve", "--host", "0.0.0.0"]
        command += ["--port", str(port), *args]
        self.process = net.popen(
            host,
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=child_env(env),
        )
        self.stderr = LineReader(self.process.stderr, f"serve-stderr-{host.name}")
        self.host = host
        self.port = port
        self.base_url = ""

    @property
    def peer_url(self) -> str:
        """Where the other hosts reach it (over the fabric)."""
        return f"http://{self.host.address}:{self.port}/eureka/"

    def wait_ready(self, timeout: float = 20.0) -> str:
        super().wait_ready(timeout)
        self.base_url = f"http://{self.host.control_address}:{self.port}/eureka/"
        return self.base_url


def _free_control_net() -> str:
    used = ip("-4", "-o", "addr").stdout + ip("-4", "route").stdout
    for third in range(os.getpid() % 250, os.getpid() % 250 + 250):
        candidate = f"{_CONTROL}.{third % 250}"
        if f"{candidate}." not in used:
            return candidate
    raise RuntimeError(f"no free /24 left in {_CONTROL}.0.0/16")


def _sweep_leftovers() -> None:
    """Remove what an earlier run of this harness left behind (its pid is gone): namespaces
    (and with them their links) where nothing runs any more, and data directories."""
    for line in ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        match = _OWN.match(name)
        if match is None or _alive(int(match.group(1))):
            continue
        if ip("netns", "pids", name, check=False).stdout.strip():
            continue  # something still runs there: not ours to stop
        ip("netns", "del", name, check=False)
    # The private PostgreSQL's data directories (tests.partitions.private_postgres).
    for folder in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*-pg-*"):
        match = _OWN.match(folder.name)
        if match is not None and not _alive(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _unavailable_reason() -> str | None:
    probe = f"{_PREFIX}{os.getpid()}-probe"
    try:
        made = ip("netns", "add", probe, check=False)
    except FileNotFoundError:
        return "the ip command (iproute2) is not installed"
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    ip("netns", "del", probe, check=False)
    return None


@contextmanager
def network() -> Iterator[Network]:
    """A fresh hub and no hosts yet; everything (processes first) is removed on exit.

    Skips, or fails under ``EUREKA_EMBED_REQUIRE=netns``, where namespaces cannot be made.
    """
    reason = _unavailable_reason()
    require("netns", reason is None, reason or "")
    _sweep_leftovers()
    with ExitStack() as stack:
        net = Network(stack)
        net._start()
        yield net
