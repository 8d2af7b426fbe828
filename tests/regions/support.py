"""A remote region for tests: a registry of its own, served in process to a follower that runs
on a manual scheduler and clock (no thread, no sleep)."""

from __future__ import annotations

from dataclasses import dataclass

from eureka_embed.client.inprocess import InProcessEurekaClient
from eureka_embed.client.scheduling import ManualScheduler
from eureka_embed.clock import ManualClock
from eureka_embed.registry import Registry
from eureka_embed.remote_regions import RegionFollower, RemoteRegion, RemoteRegions
from tests.client.support import Tap

REGION = "eu-west-1"


@dataclass
class RegionRig:
    """``remote`` is the region's registry; ``tap`` the follower's line to it (``tap.down``
    plays an outage); ``advance`` moves the follower's time on."""

    clock: ManualClock
    remote: Registry
    tap: Tap
    scheduler: ManualScheduler
    follower: RegionFollower

    def advance(self, seconds: float) -> None:
        self.scheduler.advance(seconds)

    def regions(self) -> RemoteRegions:
        return RemoteRegions([self.follower])


def region_rig(
    clock: ManualClock, name: str = REGION, *, fetch_interval_s: float = 30.0
) -> RegionRig:
    remote = Registry(clock=clock)
    tap = Tap(InProcessEurekaClient(remote))
    scheduler = ManualScheduler(clock)
    follower = RegionFollower(
        RemoteRegion(name, f"http://{name}.invalid:8761/eureka/"),
        fetch_interval_s=fetch_interval_s,
        query_client=tap,
        scheduler=scheduler,
        clock=clock,
    )
    return RegionRig(clock, remote, tap, scheduler, follower)
