"""Writes to both sides of a partition, what was acknowledged, and what the nodes hold."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
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
class Ledger:
    """What the nodes acknowledged, and what got no answer (it may or may not have happened)."""

    acked: set[str] = field(default_factory=set)
    cancelled: set[str] = field(default_factory=set)
    unsure: set[str] = field(default_factory=set)
    #: Every write's answer by status, per node URL (None: no answer).
    answers: dict[str, Counter[int | None]] = field(default_factory=dict)

    def answered(self, url: str, status: int | None) -> None:
        self.answers.setdefault(url, Counter())[status] += 1

    def must_hold(self) -> frozenset[str]:
        return frozenset(self.acked - self.cancelled - self.unsure)

    def may_hold(self) -> frozenset[str]:
        return frozenset((self.acked | self.unsure) - self.cancelled)


@dataclass
class Side:
    """The clients on one side of a partition: they write to ``url`` only."""

    url: str
    name: str
    ledger: Ledger
    #: Instances registered (and acknowledged) here that are not cancelled yet.
    live: list[str] = field(default_factory=list)
    _next: int = 0
    _beat: int = 0

    def register_new(self) -> None:
        instance_id = f"{self.name}{self._next}"
        self._next += 1
        status = _write(partial(register, self.url, APP, instance_id))
        self.ledger.answered(self.url, status)
        if status == 204:
            self.ledger.acked.add(instance_id)
            self.live.append(instance_id)
        elif status is None:
            self.ledger.unsure.add(instance_id)

    def cancel_oldest(self) -> None:
        if not self.live:
            return
        instance_id = self.live.pop(0)
        status = _write(partial(_status, f"{self.url}apps/{APP}/{instance_id}", "DELETE"))
        self.ledger.answered(self.url, status)
        if status == 200:
            self.ledger.cancelled.add(instance_id)
        elif status is None:
            self.ledger.unsure.add(instance_id)
        else:
            self.live.append(instance_id)  # refused (503): still registered, try again later

    def heartbeat_some(self, count: int) -> None:
        """Renew the next ``count`` live instances, round robin (as clients renew, spread)."""
        for _ in range(min(count, len(self.live))):
            self._beat = (self._beat + 1) % len(self.live)
            instance_id = self.live[self._beat]
            status = _write(partial(_status, f"{self.url}apps/{APP}/{instance_id}", "PUT"))
            self.ledger.answered(self.url, status)


def _status(url: str, method: str) -> int:
    return request(url, method).status


def _write(send: Callable[[], int]) -> int | None:
    try:
        return send()
    except OSError:
        return None  # no answer (time-out, reset)


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
    urls: Sequence[str], ledger: Ledger, timeout_s: float
) -> tuple[float | None, list[View | None]]:
    """Seconds until every node lists the same instances, with one hashcode, holding every
    acknowledged registration and no acknowledged cancel (None: not within ``timeout_s``)."""
    must, may = ledger.must_hold(), ledger.may_hold()
    started = time.monotonic()
    while True:
        views = [view(url) for url in urls]
        held = [v for v in views if v is not None]
        if (
            len(held) == len(urls)
            and len({(v.ids, v.hashcode) for v in held}) == 1
            and must <= held[0].ids <= may
        ):
            return time.monotonic() - started, views
        if time.monotonic() - started > timeout_s:
            return None, views
        time.sleep(0.1)
