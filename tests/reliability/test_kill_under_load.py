"""``kill -9`` of ``eureka-embed serve`` over its SQLite file while writer threads register and
cancel, at a random moment, round after round (alternating waitress and uvicorn): after every
restart each acknowledged registration is there, each acknowledged cancel stays cancelled, and
``pragma integrity_check`` is ok. Only what was in flight at the kill may go either way."""

from __future__ import annotations

import http.client
import random
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.server.support import (
    ServeProcess,
    app_instances,
    http_delete_status,
    register,
    serve_process,
)

pytestmark = pytest.mark.slow

ROUNDS = 4
WRITERS = 6
APP = "KILLED"


@dataclass
class Ledger:
    """What the server acknowledged, per instance id, across every round."""

    present: set[str] = field(default_factory=set)
    cancelled: set[str] = field(default_factory=set)
    #: Writes in flight at the kill: unanswered, so either outcome is right.
    unknown: set[str] = field(default_factory=set)
    #: Anything but the kill going wrong in a writer.
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acknowledge(self, instance_id: str, *, cancelled: bool) -> None:
        with self.lock:
            (self.present.discard if cancelled else self.present.add)(instance_id)
            (self.cancelled.add if cancelled else self.cancelled.discard)(instance_id)


def writer(base_url: str, name: str, ledger: Ledger, rng: random.Random) -> None:
    """Register ids one after another, cancelling some, until the server stops answering."""
    n = 0
    while True:
        instance_id = f"{name}-{n}"
        n += 1
        try:
            if register(base_url, APP, instance_id) != 204:
                raise AssertionError(f"registration of {instance_id} refused")
            ledger.acknowledge(instance_id, cancelled=False)
            if rng.random() < 0.3:
                if http_delete_status(f"{base_url}apps/{APP}/{instance_id}") != 200:
                    raise AssertionError(f"cancel of {instance_id} refused")
                ledger.acknowledge(instance_id, cancelled=True)
        except (OSError, http.client.HTTPException):  # the kill: this write's outcome is unknown
            with ledger.lock:
                ledger.unknown.add(instance_id)
            return
        except AssertionError as exc:
            ledger.errors.append(str(exc))
            return


def listed(server: ServeProcess) -> set[str]:
    return {instance["instanceId"] for instance in app_instances(server.base_url, APP)}


def check(database: Path, ledger: Ledger, found: set[str]) -> None:
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    settled_present = ledger.present - ledger.unknown
    settled_cancelled = ledger.cancelled - ledger.unknown
    assert settled_present <= found, f"lost: {sorted(settled_present - found)[:10]}"
    assert not settled_cancelled & found, f"back: {sorted(settled_cancelled & found)[:10]}"


def test_acknowledged_writes_survive_kill_9_at_random_moments(tmp_path: Path) -> None:
    database = tmp_path / "eureka.db"
    rng = random.Random(16)  # the moments vary from round to round, the same on every run
    ledger = Ledger()
    for round_ in range(ROUNDS):
        server_kind = ("waitress", "uvicorn")[round_ % 2]
        args = ["--store", f"sqlite:///{database}", "--server", server_kind]
        with serve_process(args) as server:
            if round_:
                check(database, ledger, listed(server))
            threads = [
                threading.Thread(
                    target=writer,
                    args=(server.base_url, f"r{round_}w{w}", ledger, random.Random(rng.random())),
                )
                for w in range(WRITERS)
            ]
            for thread in threads:
                thread.start()
            time.sleep(rng.uniform(0.2, 1.2))  # the random moment of the kill, under load
            server.send_signal(signal.SIGKILL)
            server.wait(10)
            for thread in threads:
                thread.join(15)
            assert not any(thread.is_alive() for thread in threads)
            assert ledger.errors == []
    with serve_process(["--store", f"sqlite:///{database}"]) as restarted:
        found = listed(restarted)
    check(database, ledger, found)
    # Load really ran: hundreds of acknowledged writes were at stake.
    assert len(ledger.present) + len(ledger.cancelled) > ROUNDS * WRITERS * 5
