"""DiscoveryClient against a live EurekaServer on loopback, at sub-second pace."""

from __future__ import annotations

from dataclasses import replace

from eureka_embed.client import (
    DiscoveryClient,
    DiscoveryConfig,
    TransportConfig,
    query_client,
    registration_client,
)
from eureka_embed.config import RegistryConfig
from eureka_embed.model import InstanceInfo
from eureka_embed.registry import Registry
from eureka_embed.server import EurekaServer
from tests.client.support import Tap, instance, wait_until, wrong_delta_hashcode_once

ME = "127.0.0.1:live:9000"
INTERVAL_S = 0.2


def _config(base_url: str) -> DiscoveryConfig:
    return DiscoveryConfig(
        "live",
        service_urls=base_url,
        host_name="127.0.0.1",
        ip_addr="127.0.0.1",
        port=9000,
        lease_renewal_interval_s=INTERVAL_S,
        lease_duration_s=1,
        registry_fetch_interval_s=INTERVAL_S,
        instance_info_replication_interval_s=0.5,
        transport=TransportConfig(connect_timeout_s=1, read_timeout_s=2),
        # These tests are about polling at INTERVAL_S; test_discovery_watch.py watches.
        watch=False,
    )


def _stored(server: EurekaServer, instance_id: str = ME) -> InstanceInfo | None:
    return server.registry.get_instance("LIVE", instance_id)


def test_register_heartbeats_and_shutdown(eureka_server: EurekaServer) -> None:
    with DiscoveryClient(_config(eureka_server.base_url)) as client:
        registered = wait_until(lambda: _stored(eureka_server), what="registration")
        since = registered.lease_info.registration_timestamp

        # Renewed for longer than the 1 s lease, and still there.
        wait_until(
            lambda: (
                (found := _stored(eureka_server)) is not None
                and found.lease_info.last_renewal_timestamp > since + 1200
            ),
            what="heartbeats renewing the lease past its duration",
        )
        # Waited for, not asserted at once: on a loaded machine a beat or a fetch runs late.
        wait_until(lambda: client.stats().heartbeats >= 5, what="five heartbeats")
        wait_until(
            lambda: [i.instance_id for i in client.get_instances("live")] == [ME],
            what="the client's cache listing itself",
        )

    assert _stored(eureka_server) is None, "shutdown cancels the instance"


def test_forgotten_by_the_server_the_client_registers_again(eureka_server: EurekaServer) -> None:
    with DiscoveryClient(_config(eureka_server.base_url)) as client:
        wait_until(lambda: _stored(eureka_server), what="registration")

        eureka_server.registry.cancel("LIVE", ME)

        wait_until(lambda: _stored(eureka_server), what="re-registration after a 404")
        assert client.stats().reregistrations >= 1


def test_deltas_bring_changes_and_a_hashcode_mismatch_forces_a_full_fetch(
    eureka_server: EurekaServer,
) -> None:
    url = eureka_server.base_url
    with (
        registration_client(url) as registrations,
        query_client(url) as queries,
    ):
        tap = Tap(queries)
        client = DiscoveryClient(_config(url), registration_client=registrations, query_client=tap)
        with client:
            eureka_server.registry.register(instance(7, app="OTHER"))
            wait_until(lambda: client.get_instances("other"), what="the delta with OTHER")
            assert client.stats().full_fetches == 1, "only the first fetch was a full one"
            assert client.stats().delta_fetches >= 1

            wrong_delta_hashcode_once(tap)

            wait_until(lambda: client.stats().reconcile_mismatches == 1, what="a mismatch")
            wait_until(lambda: client.stats().full_fetches == 2, what="the full fetch")
            server_hashcode = eureka_server.registry.apps_hashcode()
            assert client.applications().apps_hashcode == server_hashcode


def test_backs_off_while_the_server_is_down_and_recovers_when_it_returns() -> None:
    first = EurekaServer(Registry(config=RegistryConfig(self_preservation=False)))
    first.start()
    client = DiscoveryClient(_config(first.base_url))
    try:
        client.start()
        wait_until(lambda: _stored(first), what="registration")
        first.stop()

        wait_until(
            lambda: client.stats().heartbeat_delay_s >= 8 * INTERVAL_S,
            what="the heartbeat backing off",
        )
        assert client.stats().fetch_delay_s > INTERVAL_S

        second = EurekaServer(port=first.port)
        second.start()
        try:
            # The new server never heard of us: the next heartbeat's 404 re-registers.
            wait_until(lambda: _stored(second), timeout=15, what="registration on the new server")
            wait_until(
                lambda: client.stats().heartbeat_delay_s == INTERVAL_S,
                what="the heartbeat interval back to normal",
            )
            assert client.stats().reregistrations >= 1
            client.shutdown()
            assert _stored(second) is None, "shutdown cancels on the server it now talks to"
        finally:
            second.stop()
    finally:
        client.shutdown()
        first.stop()


def test_a_query_only_client_sees_what_others_registered(eureka_server: EurekaServer) -> None:
    config = replace(_config(eureka_server.base_url), register_with_eureka=False)
    eureka_server.registry.register(instance(1, app="PAYMENTS"))

    with DiscoveryClient(config) as client:
        [found] = client.get_instances("payments")
        assert found.host_name == "host1"
        assert _stored(eureka_server) is None
