"""Three ``serve --auth`` peers replicating with the peer credentials in their ``--peer``
URLs, and a node whose peer password is wrong: refused, and saying so in ``GET status``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import pytest

from tests.auth.support import SECRETS, USERS, authorization, credentials_toml
from tests.replication.test_cluster_processes import NODE_ARGS, Cluster, free_ports, url_of
from tests.server.support import (
    ServeProcess,
    get_json,
    live_instance,
    register_body,
    request,
    serve_process,
    wait_for,
)

PEER_PASSWORD = USERS["eureka-peer"][0]


def peer_url(port: int, password: str = PEER_PASSWORD) -> str:
    return url_of(port).replace("http://", f"http://eureka-peer:{password}@")


class AuthCluster(Cluster):
    """The cluster of the replication tests, every node with ``--auth``."""

    def __init__(self, stack: ExitStack, auth_file: Path) -> None:
        super().__init__(stack)
        self.auth_file = auth_file

    @property
    def peer_arg(self) -> str:
        return ",".join(peer_url(port) for port in self.ports)

    def spawn(self, port: int) -> ServeProcess:
        return ServeProcess(
            ["--port", str(port), "--peer", self.peer_arg, "--auth", str(self.auth_file),
             "--log-level", "debug", *NODE_ARGS]
        )  # fmt: skip


@pytest.fixture
def auth_file(tmp_path: Path) -> Path:
    path = tmp_path / "auth.toml"
    path.write_text(credentials_toml(("read",)))
    return path


@pytest.fixture
def cluster(auth_file: Path) -> Iterator[AuthCluster]:
    with ExitStack() as stack:
        made = AuthCluster(stack, auth_file)
        made.start()
        yield made


def _register(base_url: str, app: str, instance_id: str, user: str) -> int:
    headers = {**authorization(user), "Content-Type": "application/json"}
    body = register_body(app, instance_id)
    return request(f"{base_url}apps/{app}", "POST", body=body, headers=headers).status


def _peers_of(base_url: str) -> list[dict[str, object]]:
    peers: list[dict[str, object]] = get_json(f"{base_url}status")["status"]["peers"]
    return peers


@pytest.mark.slow
def test_peers_replicate_with_their_credentials(cluster: AuthCluster) -> None:
    urls = cluster.urls
    for n, node in enumerate(urls):
        assert _register(node, "ORDERS", f"o{n}", "orders") == 204
    for n, node in enumerate(urls):
        for other in urls:
            wait_for(partial(live_instance, other, "ORDERS", f"o{n}"), what=f"o{n} on {other}")
        assert {p["status"] for p in _peers_of(node)} == {"UP"}
    b = urls[1]
    # A client may not pose as a peer.
    forged = {**authorization("orders"), "x-netflix-discovery-replication": "true"}
    assert request(f"{b}apps/ORDERS/o0", "DELETE", headers=forged).status == 403
    logs = "".join(node.stderr.text() for node in cluster.nodes)
    status = "".join(str(_peers_of(node)) for node in cluster.urls)
    for secret in SECRETS:
        assert secret not in logs and secret not in status


@pytest.mark.slow
def test_a_peer_with_wrong_credentials_is_refused_and_says_so(auth_file: Path) -> None:
    [target_port] = free_ports(1)
    target_args = ["--port", str(target_port), "--auth", str(auth_file)]
    with serve_process(target_args) as target:
        wrong = ["--auth", str(auth_file), "--peer", peer_url(target_port, "not-the-password")]
        with serve_process(wrong) as node:
            assert _register(node.base_url, "ORDERS", "o2", "orders") == 204

            def refusal() -> object:
                [peer] = _peers_of(node.base_url)
                return peer.get("lastError")

            error = wait_for(refusal, what="the refusal in the node's status")
            assert str(error).startswith("HTTP 401: the peer refused this node's credentials")
            assert live_instance(target.base_url, "ORDERS", "o2") is None
            assert "not-the-password" not in node.stderr.text() + str(_peers_of(node.base_url))
