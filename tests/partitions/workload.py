"""Writes to both sides of a partition, what was acknowledged, and what the nodes hold."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.server.support import JSON_HEADERS, register, request

APP = "PART"


@dataclass(frozen=True)
class View:
    """What one node lists: its instance ids and its apps hashcode."""

    ids: frozenset[str]
    hashcode: str


def view(base_url: str) -> View | None:
    """The node's registry, or None if it did not answer."""
    try:
        answer = request(f"{base_url}apps", headers={"Accept": "application/json"}, timeout=2)
    except OSError:
        return None
    if answer.status != 200:
        return None
    apps = answer.json()["applications"]
    ids = frozenset(
        instance["instanceId"]
        for application in apps.get("application", [])
        for instance in application["instance"]
    )
    return View(ids, apps["apps__hashcode"])


@dataclass
class Side:
    """The clients on one side of the partition: they write to ``url`` only."""

    url: str
    name: str
    #: Instances registered (and acknowledged) here that are not cancelled yet.
    live: list[str] = field(default_factory=list)
    _next: int = 0
    _beat: int = 0

    def register_new(self, acked: set[str]) -> None:
        instance_id = f"{self.name}{self._next}"
        self._next += 1
        if _write(lambda: register(self.url, APP, instance_id)) == 204:
            acked.add(instance_id)
            self.live.append(instance_id)

    def cancel_oldest(self, cancelled: set[str]) -> None:
        if not self.live:
            return
        instance_id = self.live.pop(0)
        if _write(lambda: request(f"{self.url}apps/{APP}/{instance_id}", "DELETE").status) == 200:
            cancelled.add(instance_id)

    def heartbeat_some(self, count: int) -> None:
        """Renew the next ``count`` live instances, round robin (as clients renew, spread)."""
        for _ in range(min(count, len(self.live))):
            self._beat = (self._beat + 1) % len(self.live)
            instance_id = self.live[self._beat]
            _write(lambda: request(f"{self.url}apps/{APP}/{instance_id}", "PUT").status)


def _write(send: Callable[[], int]) -> int | None:
    try:
        return send()
    except OSError:
        return None  # not acknowledged: not counted either way


def register_all(url: str, ids: Sequence[str]) -> None:
    for instance_id in ids:
        assert register(url, APP, instance_id) == 204, instance_id


def queue_lengths(base_url: str) -> list[int]:
    """The replication queue length towards each peer, from ``GET status``."""
    try:
        answer = request(f"{base_url}status", headers=JSON_HEADERS, timeout=2)
    except OSError:
        return []
    status: dict[str, Any] = answer.json()["status"]
    return [int(peer["queueLength"]) for peer in status.get("peers", [])]


def until_agreed(
    urls: Sequence[str], expected: frozenset[str], timeout_s: float
) -> tuple[float | None, list[View | None]]:
    """Seconds until every node lists exactly ``expected`` with one hashcode (None: never)."""
    started = time.monotonic()
    while True:
        views = [view(url) for url in urls]
        agreed = all(v is not None and v.ids == expected for v in views)
        if agreed and len({v.hashcode for v in views if v is not None}) == 1:
            return time.monotonic() - started, views
        if time.monotonic() - started > timeout_s:
            return None, views
        time.sleep(0.1)
