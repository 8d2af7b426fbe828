"""TLS on uvicorn, for clients and for peers, with certificates made here (trustme)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from eureka_embed.asgi_server import ServerTls, UvicornServer
from eureka_embed.client import StaticResolver, TransportConfig
from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.client.factory import build_client_stack
from eureka_embed.client.rest import RestEurekaHttpClient
from eureka_embed.client.urllib3_transport import urllib3_transports
from eureka_embed.codec import WireFormat, decode_instance
from eureka_embed.errors import TransportError
from eureka_embed.registry import Registry
from eureka_embed.replication import PeerReplicator, ReplicationSettings
from tests.auth.support import USERS, Pki, basic_auth, make_pki
from tests.server.support import wait_for
from tests.wsgi.helpers import json_body


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def registry() -> Iterator[Registry]:
    made = Registry()
    try:
        yield made
    finally:
        made.close()


def _url(server: UvicornServer, user: str) -> str:
    return server.base_url.replace("https://", f"https://{user}:{USERS[user][0]}@")


def _apps_of(url: str, ca_file: str | None = None, cert_file: str | None = None) -> int:
    new_transport = urllib3_transports(read_timeout_s=5, ca_file=ca_file, cert_file=cert_file)
    transport = new_transport(EurekaEndpoint.parse(url))
    client = RestEurekaHttpClient(EurekaEndpoint.parse(url), transport)
    try:
        return client.get_applications().status
    finally:
        client.shutdown()


def test_https_with_the_ca_connects_and_without_it_fails(pki: Pki, registry: Registry) -> None:
    tls = ServerTls(pki.server_cert, pki.server_key)
    with UvicornServer(registry, tls=tls, auth=basic_auth(), maintenance=False) as server:
        assert server.base_url.startswith("https://127.0.0.1:")
        assert _apps_of(_url(server, "reader"), ca_file=pki.ca) == 200
        with pytest.raises(TransportError, match=r"TLS failed.*CERTIFICATE_VERIFY_FAILED"):
            _apps_of(_url(server, "reader"))
        # Over TLS the credentials still decide.
        assert _apps_of(server.base_url, ca_file=pki.ca) == 401


def test_the_client_stack_takes_tls_from_transport_config(pki: Pki, registry: Registry) -> None:
    tls = ServerTls(pki.server_cert, pki.server_key)
    with UvicornServer(registry, tls=tls, maintenance=False) as server:
        stack = build_client_stack(
            StaticResolver(server.base_url), config=TransportConfig(ca_file=pki.ca, max_tries=1)
        )
        try:
            assert stack.get_applications().status == 200
        finally:
            stack.shutdown()


def test_mutual_tls_refuses_a_client_without_a_certificate(pki: Pki, registry: Registry) -> None:
    tls = ServerTls(pki.server_cert, pki.server_key, client_ca_file=pki.ca)
    with UvicornServer(registry, tls=tls, maintenance=False) as server:
        with pytest.raises(TransportError):
            _apps_of(server.base_url, ca_file=pki.ca)
        assert _apps_of(server.base_url, ca_file=pki.ca, cert_file=pki.client) == 200


def test_a_peer_replicates_over_mutual_tls_with_its_credentials(
    pki: Pki, registry: Registry
) -> None:
    tls = ServerTls(pki.server_cert, pki.server_key, client_ca_file=pki.ca)
    with UvicornServer(registry, tls=tls, auth=basic_auth(), maintenance=False) as peer:
        origin = Registry()
        settings = ReplicationSettings(ca_file=pki.ca, client_cert=pki.client)
        try:
            with PeerReplicator(origin, [_url(peer, "eureka-peer")], settings=settings) as sender:
                origin.register(decode_instance(json_body(), WireFormat.JSON, now_ms=1000))
                wait_for(
                    lambda: registry.get_instance("ORDERS", "host1:orders:8080"),
                    what="the registration to reach the peer over mutual TLS",
                )
                [status] = sender.peers_status()
                assert status["url"] == peer.base_url  # no credentials shown
        finally:
            origin.close()


def test_bad_server_tls_files_are_refused_before_serving(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("junk")
    with pytest.raises(ValueError, match="cannot load the TLS certificate"):
        UvicornServer(tls=ServerTls(str(junk), str(junk)))
