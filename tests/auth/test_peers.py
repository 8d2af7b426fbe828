"""Replication with the credentials of the peer URL: accepted, refused, never shown."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from eureka_embed.codec import WireFormat, decode_instance
from eureka_embed.registry import Registry
from eureka_embed.replication import PeerReplicator
from eureka_embed.server import EurekaServer
from tests.auth.support import SECRETS, USERS, authorization, basic_auth
from tests.server.support import request, wait_for
from tests.wsgi.helpers import json_body


@pytest.fixture
def peer() -> Iterator[EurekaServer]:
    with EurekaServer(auth=basic_auth(), maintenance=False) as server:
        yield server


def _with_user(url: str, user: str, password: str | None = None) -> str:
    secret = USERS[user][0] if password is None else password
    return url.replace("http://", f"http://{user}:{secret}@")


def _replicate_to(url: str) -> tuple[Registry, PeerReplicator]:
    origin = Registry()
    sender = PeerReplicator(origin, [url]).start()
    origin.register(decode_instance(json_body(), WireFormat.JSON, now_ms=1000))
    return origin, sender


def test_a_peer_user_replicates(peer: EurekaServer) -> None:
    origin, sender = _replicate_to(_with_user(peer.base_url, "eureka-peer"))
    try:
        wait_for(lambda: peer.registry.get_instance("ORDERS", "host1:orders:8080"), what="copy")
        assert sender.peers_status()[0]["status"] == "UP"
    finally:
        sender.stop()
        origin.close()


@pytest.mark.parametrize(
    ("user", "password", "says"),
    [
        ("eureka-peer", "wrong-pw-77", "HTTP 401: the peer refused this node's credentials"),
        ("ops", None, "HTTP 403: the peer's user for this node lacks the peer role"),
    ],
)
def test_a_refused_peer_says_so_in_its_status_and_shows_no_secret(
    peer: EurekaServer,
    caplog: pytest.LogCaptureFixture,
    user: str,
    password: str | None,
    says: str,
) -> None:
    url = _with_user(peer.base_url, user, password)
    with caplog.at_level(logging.DEBUG):
        origin, sender = _replicate_to(url)
        try:
            wait_for(lambda: sender.peers_status()[0].get("lastError"), what="a refusal")
            [status] = sender.peers_status()
            assert status["lastError"] == says + (
                " (the user and password in its --peer URL)" if "401" in says else ""
            )
            assert status["url"] == peer.base_url
            assert peer.registry.get_instance("ORDERS", "host1:orders:8080") is None
        finally:
            sender.stop()
            origin.close()
    shown = caplog.text + repr(sender.peers) + str(sender.peers_status())
    for secret in (*SECRETS, "wrong-pw-77"):
        assert secret not in shown


def test_status_dashboard_and_metrics_show_no_secret() -> None:
    origin = Registry()
    with EurekaServer(
        origin,
        auth=basic_auth(),
        maintenance=False,
        peers=["http://eureka-peer:peer-secret-4@127.0.0.1:9/eureka/"],
    ) as node:
        headers = authorization("ops")
        pages = [
            request(f"{node.base_url}status", headers={**headers, "Accept": "application/json"}),
            request(f"{node.root_url}/dashboard/data", headers=headers),
            request(f"{node.root_url}/metrics", headers=headers),
        ]
    origin.close()
    for page in pages:
        assert page.status == 200
        text = page.body.decode()
        assert "127.0.0.1:9/eureka/" in text
        for secret in SECRETS:
            assert secret not in text
