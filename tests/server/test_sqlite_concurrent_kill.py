"""Concurrent registrations to a real ``eureka-embed serve`` over its SQLite file share
commits (group commit): every one answered 204 is on disk, even when the process is killed
with SIGKILL right after the last answer."""

from __future__ import annotations

import signal
import sqlite3
import threading
from pathlib import Path

from tests.server.support import app_instances, register, serve_process

CLIENTS = 16
EACH = 20


def test_concurrent_registrations_all_survive_kill_9_after_their_answers(tmp_path: Path) -> None:
    database = tmp_path / "eureka.db"
    args = ["--store", f"sqlite:///{database}"]
    statuses: dict[str, int] = {}
    with serve_process(args) as server:
        base_url = server.base_url

        def client(c: int) -> None:
            for n in range(EACH):
                instance_id = f"c{c}-{n}"
                statuses[instance_id] = register(base_url, "STORM", instance_id)

        threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        # Every answer is in: kill at once, before any flush or shutdown could write more.
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)

    assert len(statuses) == CLIENTS * EACH
    assert set(statuses.values()) == {204}
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = conn.execute("SELECT COUNT(*) FROM eureka_leases WHERE app = 'STORM'").fetchone()
    assert rows == (CLIENTS * EACH,)
    with serve_process(args) as restarted:
        listed = {i["instanceId"] for i in app_instances(restarted.base_url, "STORM")}
    assert listed == set(statuses)
