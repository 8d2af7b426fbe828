"""A full disk under the SQLite store: on a small tmpfs the test mounts, filled to the last byte,
writes answer 503 with the reason while reads keep answering; nothing acknowledged is lost;
``pragma integrity_check`` stays ok; once space returns, writes are acknowledged again without
a restart. Needs root (``mount``); skipped with the reason elsewhere, required in CI through
``EUREKA_EMBED_REQUIRE=tmpfs``."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.integration.requirements import require
from tests.reliability.live import live_node
from tests.server.support import JSON_HEADERS, app_instances, request, wait_for

pytestmark = pytest.mark.slow

APP = "DISK"
#: Large enough for the schema and a few hundred registrations, small enough to fill at once.
SIZE = "4m"
#: Fat metadata, so each registration takes a page or more and the disk fills in few writes.
METADATA = {f"k{n}": "x" * 200 for n in range(20)}
MAX_WRITES = 3000
RESUME_S = 5.0


@contextmanager
def small_tmpfs(where: Path) -> Iterator[Path]:
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    reason = (mounted.stderr or mounted.stdout).strip() or f"exit status {mounted.returncode}"
    require("tmpfs", mounted.returncode == 0, f"mount -t tmpfs refused: {reason}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path) -> Path:
    """A file taking every byte left on ``directory``'s filesystem."""
    filler = directory / "filler"
    chunk = b"\0" * (64 << 10)
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        small = b"\0" * 512
        try:  # the last part-chunk too: the next page SQLite asks for must fail
            while True:
                out.write(small)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def registration(instance_id: str) -> bytes:
    return json.dumps(
        {
            "instance": {
                "instanceId": instance_id,
                "hostName": "127.0.0.1",
                "app": APP,
                "ipAddr": "127.0.0.1",
                "status": "UP",
                "port": {"$": 8080, "@enabled": "true"},
                "dataCenterInfo": {"name": "MyOwn"},
                "metadata": METADATA,
            }
        }
    ).encode()


def post(base_url: str, instance_id: str) -> tuple[int, str]:
    """The status of a registration, and its reason when refused (with its Retry-After)."""
    answer = request(
        f"{base_url}apps/{APP}", "POST", body=registration(instance_id), headers=JSON_HEADERS
    )
    reason = answer.body.decode(errors="replace")
    if answer.status == 503:
        assert answer.headers["retry-after"].isdigit(), answer.headers
    return answer.status, reason


def test_a_full_disk_refuses_writes_with_503_loses_nothing_and_recovers(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "small") as disk:
        acknowledged: set[str] = set()
        with live_node("waitress", "sqlite", disk) as node:
            for n in range(20):
                status, _ = post(node.base_url, f"before-{n}")
                assert status == 204
                acknowledged.add(f"before-{n}")
            filler = fill(disk)

            refusal = None
            for n in range(MAX_WRITES):
                status, body = post(node.base_url, f"full-{n}")
                assert status in (204, 503), (status, body)
                if status == 503:
                    refusal = body
                    break
                acknowledged.add(f"full-{n}")  # pages freed earlier can still take a few
            assert refusal is not None, f"{MAX_WRITES} writes fitted on a full disk"
            assert "full" in refusal.lower(), refusal

            # Reads keep answering from what the node holds.
            assert {i["instanceId"] for i in app_instances(node.base_url, APP)} >= acknowledged
            assert post(node.base_url, "still-full")[0] == 503

            os.unlink(filler)
            started = time.monotonic()
            wait_for(
                lambda: post(node.base_url, "after")[0] == 204,
                timeout=RESUME_S,
                what="a write acknowledged once space returned",
            )
            acknowledged.add("after")
            resumed_s = time.monotonic() - started
            assert resumed_s < RESUME_S

        with sqlite3.connect(disk / "eureka.db") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        with live_node("waitress", "sqlite", disk) as restarted:
            found = {i["instanceId"] for i in app_instances(restarted.base_url, APP)}
        assert acknowledged <= found, sorted(acknowledged - found)[:10]
