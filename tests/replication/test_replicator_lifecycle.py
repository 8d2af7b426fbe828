"""PeerReplicator's life cycle (found by mutation testing): defaults, start once, stop twice."""

from __future__ import annotations

import logging

import pytest

from eureka_embed.client.errors import ConnectError
from eureka_embed.client.transport import HttpRequest, HttpResponse, MockTransport
from eureka_embed.clock import ManualClock
from eureka_embed.registry import Registry
from eureka_embed.replication import NodeAddress, PeerReplicator, ReplicationSettings


def test_a_replicator_without_settings_uses_the_defaults() -> None:
    replicator = PeerReplicator(Registry(clock=ManualClock()), [])
    assert replicator.settings == ReplicationSettings()


def test_a_replicator_starts_only_once() -> None:
    replicator = PeerReplicator(Registry(clock=ManualClock()), [])
    with replicator, pytest.raises(RuntimeError, match="already started"):
        replicator.start()


def test_the_node_logs_its_peers_and_the_entry_that_is_itself(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = Registry(clock=ManualClock())
    peers = "http://localhost:8761/eureka/,http://node-b:8761/eureka/,http://node-c:8761/eureka/"
    refuse = MockTransport(_refuse)
    with caplog.at_level(logging.INFO, logger="eureka_embed.replication.replicator"):
        replicator = PeerReplicator(
            registry,
            [peers],
            own_address=NodeAddress.of("127.0.0.1", 8761),
            settings=ReplicationSettings(stop_flush_s=0),
            transport_factory=lambda _: refuse,
        )
        with replicator:
            pass
    assert [r.getMessage() for r in caplog.records if r.name.endswith(".replicator")] == [
        "peer http://localhost:8761/eureka/ is this node; not replicating to it",
        "replicating to http://node-b:8761/eureka/, http://node-c:8761/eureka/",
    ]


def _refuse(request: HttpRequest) -> HttpResponse:
    raise ConnectError("refused")
