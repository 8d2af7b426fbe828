"""Peers from DNS for real: a name in ``/etc/hosts``, resolved by two ``serve`` processes.

The name is unique to the run and removed afterwards (only its own lines, so whatever else is
written meanwhile stays). Skipped where the hosts file cannot be written (not root, read-only).
Node A resolves the name to itself and skips it; node B replicates to A. Pointing the name at
another address moves B's peer there, without a restart.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.auth.support import make_pki
from tests.replication.test_cluster_processes import free_ports
from tests.server.support import ServeProcess, live_instance, register, request, wait_for

pytestmark = pytest.mark.slow

HOSTS = "/etc/hosts"


class HostsEntry:
    """One name of ours in the hosts file, pointed where the test says."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._marker = f"# eureka-embed test {name}"

    def point_to(self, address: str) -> None:
        self.remove()
        with open(HOSTS, "a", encoding="utf-8") as hosts:
            hosts.write(f"{address} {self.name} {self._marker}\n")

    def remove(self) -> None:
        # Rewritten in place: the file is often a bind mount, which a rename would not replace.
        with open(HOSTS, "r+", encoding="utf-8") as hosts:
            kept = [line for line in hosts if self._marker not in line]
            hosts.seek(0)
            hosts.writelines(kept)
            hosts.truncate()


@contextmanager
def hosts_entry() -> Iterator[HostsEntry]:
    if not os.access(HOSTS, os.W_OK):
        pytest.skip(f"{HOSTS} cannot be written here (needs root and a writable file)")
    entry = HostsEntry(f"eureka-embed-peers-{uuid.uuid4().hex[:12]}.test")
    try:
        yield entry
    finally:
        entry.remove()


def status(node: ServeProcess) -> dict[str, Any]:
    answer = request(node.base_url + "status", headers={"Accept": "application/json"})
    status: dict[str, Any] = orjson.loads(answer.body)["status"]
    return status


def peer_urls(node: ServeProcess) -> list[str]:
    return [peer["url"] for peer in status(node)["peers"]]


def test_peers_follow_a_name_in_the_hosts_file() -> None:
    port_a, port_b = free_ports(2)
    a_url = f"http://127.0.0.1:{port_a}/eureka/"
    with hosts_entry() as entry:
        entry.point_to("127.0.0.1")
        dns = ["--peer-dns", f"{entry.name}:{port_a}", "--peer-dns-interval", "0.2"]
        a = ServeProcess(["--port", str(port_a), *dns])
        b = ServeProcess(["--port", str(port_b), *dns])
        try:
            a.wait_ready()
            b.wait_ready()
            a.wait_copied()
            b.wait_copied()
            assert peer_urls(a) == []  # the name is A itself
            assert peer_urls(b) == [a_url]

            # B's peer from DNS gets B's writes.
            assert register(b.base_url, "ORDERS", "i-1") == 204
            wait_for(
                lambda: live_instance(a.base_url, "ORDERS", "i-1"),
                timeout=10,
                what="the registration replicated to A",
            )

            # The name moves: B drops A and takes the new address, without a restart.
            entry.point_to("127.0.0.2")
            moved = f"http://127.0.0.2:{port_a}/eureka/"
            wait_for(lambda: peer_urls(b) == [moved], timeout=10, what="B's peer moved")
            # A skips it still: every loopback address is taken for this node (peer_urls).
            assert peer_urls(a) == []
        finally:
            a.terminate()
            b.terminate()
    assert f"peer DNS: {a_url} is gone" in b.stderr.text()


def test_an_https_peer_from_the_hosts_file_is_verified_with_the_peer_ca(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)  # the server certificate names 127.0.0.1
    port_a, port_b = free_ports(2)
    a_url = f"https://127.0.0.1:{port_a}/eureka/"
    tls = ["--server", "uvicorn", "--tls-cert", pki.server_cert, "--tls-key", pki.server_key]
    with hosts_entry() as entry:
        entry.point_to("127.0.0.1")
        dns = ["--peer-dns", f"https://{entry.name}:{port_a}", "--peer-ca-file", pki.ca]
        a = ServeProcess(["--port", str(port_a), *tls])
        b: ServeProcess | None = None
        try:
            a.stderr.wait_for(r"eureka-embed serving on https://", 20)  # before B copies from it
            b = ServeProcess(["--port", str(port_b), *dns])
            b.wait_ready()
            b.wait_copied()
            assert peer_urls(b) == [a_url]

            assert register(b.base_url, "ORDERS", "i-1") == 204

            def sent_to_a() -> bool:
                (peer,) = status(b)["peers"]
                return bool(peer["status"] == "UP" and peer["itemsSent"] >= 1)

            wait_for(sent_to_a, timeout=10, what="B replicating to A over HTTPS")
            assert f"start-up copy: 0 instances from {a_url}" in b.stderr.text()
        finally:
            a.terminate()
            if b is not None:
                b.terminate()
