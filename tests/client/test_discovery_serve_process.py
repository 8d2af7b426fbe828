"""DiscoveryClient against a real ``eureka-embed serve`` process, observed only over HTTP."""

from __future__ import annotations

from eureka_embed.client import DiscoveryClient
from tests.client.test_discovery_live import ME, _config
from tests.server.support import http_delete_status, live_instance, serve_process, wait_for


def test_the_whole_client_story_against_a_serve_process() -> None:
    with serve_process(["--eviction-interval", "1", "--no-self-preservation"]) as server:
        base = server.base_url
        with DiscoveryClient(_config(base)) as client:
            registered = wait_for(lambda: live_instance(base, "LIVE", ME), what="registration")
            since = int(registered["leaseInfo"]["registrationTimestamp"])
            # Heartbeats keep the 1 s lease alive well past its duration, with eviction running.
            wait_for(
                lambda: (
                    (found := live_instance(base, "LIVE", ME)) is not None
                    and int(found["leaseInfo"]["lastRenewalTimestamp"]) > since + 1500
                ),
                what="heartbeats renewing the lease",
            )
            # The server forgets the instance: the next heartbeat's 404 makes it register again.
            assert http_delete_status(f"{base}apps/LIVE/{ME}") == 200
            wait_for(lambda: live_instance(base, "LIVE", ME), what="re-registration")
            assert client.stats().reregistrations >= 1
            # Its own cache, refreshed by deltas, sees itself again (after the DELETED one).
            wait_for(
                lambda: [i.instance_id for i in client.get_instances("live")] == [ME],
                what="the client's cache catching up by delta",
            )
        assert live_instance(base, "LIVE", ME) is None, "shutdown cancels the instance"
