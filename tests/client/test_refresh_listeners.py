"""Refresh listeners hear of every change of the client's registry copy, once each.

A scripted server over the mock transport answers full fetches and deltas as each test says,
so the awkward sequences (a merged delta, a hashcode mismatch, a full fetch equal to the merge)
happen exactly, on a manual clock and scheduler.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from eureka_embed.client import (
    CacheRefreshed,
    DiscoveryClient,
    DiscoveryConfig,
    EurekaEndpoint,
    HttpRequest,
    HttpResponse,
    ManualScheduler,
    MockTransport,
    RestEurekaHttpClient,
)
from eureka_embed.clock import ManualClock
from eureka_embed.model import ActionType, InstanceInfo, apps_hashcode
from tests.client.support import apps_answer, instance

SERVER = "http://eureka:8761/eureka/"
# As Eureka servers answer, in full fetches and deltas alike.
A = instance(1, action_type=ActionType.ADDED)
X = instance(2, action_type=ActionType.ADDED)


@dataclass
class ScriptedServer:
    """Answers ``GET apps/`` with :attr:`full` and ``GET apps/delta`` with :attr:`delta`,
    whose hashcode is the full registry's unless :attr:`delta_hashcode` says otherwise."""

    full: list[InstanceInfo] = field(default_factory=list)
    delta: list[InstanceInfo] = field(default_factory=list)
    delta_hashcode: str | None = None
    paths: list[str] = field(default_factory=list)

    def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.url.removeprefix(SERVER).split("?", 1)[0]
        self.paths.append(path)
        if path == "apps/delta":
            hashcode = self.delta_hashcode or apps_hashcode(self.full)
            return apps_answer(self.delta, hashcode=hashcode)
        assert path == "apps/", path
        return apps_answer(self.full)


@pytest.fixture
def server() -> ScriptedServer:
    return ScriptedServer(full=[A])


@dataclass
class Following:
    """A query-only client of the scripted server, and what its listener was told."""

    client: DiscoveryClient
    events: list[CacheRefreshed]

    def refresh(self) -> None:
        assert self.client.refresh()


@pytest.fixture
def following(server: ScriptedServer, clock: ManualClock) -> Iterator[Following]:
    query = RestEurekaHttpClient(EurekaEndpoint.parse(SERVER), MockTransport(server.handle))
    client = DiscoveryClient(
        DiscoveryConfig("orders", register_with_eureka=False),
        registration_client=query,
        query_client=query,
        scheduler=ManualScheduler(clock),
        clock=clock,
    )
    told: list[CacheRefreshed] = []
    client.add_listener(told.append)
    client.start()
    assert server.paths == ["apps/"]
    assert [_ids(e) for e in told] == [{A.instance_id}]
    told.clear()
    server.paths.clear()
    yield Following(client, told)
    client.shutdown()
    query.shutdown()


def _ids(event: CacheRefreshed) -> set[str]:
    return {i.instance_id for app in event.view.apps.values() for i in app.instances}


def test_a_change_merged_from_a_delta_is_told_once_when_the_full_fetch_agrees(
    server: ScriptedServer, following: Following
) -> None:
    # The delta adds X; its hashcode disagrees with the merge (the server's registry moved on,
    # or a node answered from a lagging copy), so the client fetches it all, and the full
    # registry is exactly what the merge had produced.
    server.full = [A, X]
    server.delta = [X]
    server.delta_hashcode = "UP_3_"

    following.refresh()

    assert server.paths == ["apps/delta", "apps/"]
    assert [_ids(e) for e in following.events] == [{A.instance_id, X.instance_id}]
    assert following.events[0].full_fetch is True


def test_nothing_is_told_again_when_nothing_changed_since_the_last_telling(
    server: ScriptedServer, following: Following
) -> None:
    server.full = [A, X]
    server.delta = [X]
    following.refresh()
    assert [_ids(e) for e in following.events] == [{A.instance_id, X.instance_id}]
    assert following.events[0].full_fetch is False

    # The same delta again (deltas repeat changes for minutes), then a mismatch whose full
    # fetch brings the registry listeners already know: nothing new to tell.
    following.refresh()
    server.delta_hashcode = "UP_3_"
    following.refresh()

    assert server.paths[-2:] == ["apps/delta", "apps/"]
    assert len(following.events) == 1


def test_a_full_fetch_that_undoes_a_merged_delta_tells_nothing(
    server: ScriptedServer, following: Following
) -> None:
    # The delta claims X was added, the hashcode disagrees, and the full registry has no X:
    # the copy ends where listeners last saw it.
    server.delta = [X]  # merged, {A, X} disagrees with the server's hashcode of {A}

    following.refresh()

    assert server.paths == ["apps/delta", "apps/"]
    assert following.events == []


def test_a_full_fetch_after_a_mismatch_that_changes_more_is_told_once(
    server: ScriptedServer, following: Following
) -> None:
    third = instance(3, action_type=ActionType.ADDED)
    server.full = [A, X, third]
    server.delta = [X]  # the merge gives {A, X}: not the server's hashcode

    following.refresh()

    assert server.paths == ["apps/delta", "apps/"]
    assert [_ids(e) for e in following.events] == [
        {A.instance_id, X.instance_id, third.instance_id}
    ]
