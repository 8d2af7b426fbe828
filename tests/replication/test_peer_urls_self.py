"""How a node finds itself in the shared peer list (found by mutation testing)."""

from __future__ import annotations

import socket

import pytest

from eureka_embed.replication import NodeAddress


def test_a_node_on_all_interfaces_knows_itself_by_this_machines_host_name() -> None:
    own = NodeAddress.of("0.0.0.0", 8761)
    assert own.is_self(f"http://{socket.gethostname()}:8761/eureka/")
    assert own.is_self(f"http://{socket.gethostname().upper()}:8761/eureka/")


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("Example.Internal", "http://example.internal:8761/eureka/"),
        (" Xenon.local ", "http://xenon.local:8761/eureka/"),
        ("[::1]", "http://127.0.0.1:8761/eureka/"),
    ],
)
def test_the_listen_host_is_read_as_the_cli_gives_it(host: str, url: str) -> None:
    assert NodeAddress.of(host, 8761).is_self(url)


def test_an_https_peer_url_without_port_means_port_443() -> None:
    own = NodeAddress.of("localhost", 443)
    assert own.is_self("https://localhost/eureka/")
    assert not NodeAddress.of("localhost", 80).is_self("https://localhost/eureka/")
