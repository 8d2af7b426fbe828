"""A database that stops answering (a frozen network path, not a refused connection) costs the
writes a prompt 503, and nothing else: heartbeats and reads go on from memory.

A real ``eureka-embed serve`` talks to a real database through :class:`FreezingProxy`, which on
command stops moving bytes without closing anything.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

import pytest
import sqlalchemy as sa

from eureka_embed.storage import migrate
from eureka_embed.storage.sql_engine import create_store_engine
from tests.databases import server_database_url
from tests.server.support import JSON_HEADERS, register_body, request, serve_process, wait_for
from tests.storage.freezing_proxy import FreezingProxy, freezing_proxy

#: Short store time-outs (URL options), so the test sees several rounds in a few seconds.
TIMEOUTS = {"connect_timeout": "2", "statement_timeout": "2", "lock_timeout": "1"}
#: Bound on a write's answer while frozen: connect 2 s, or statement 2 s plus 1 s of grace,
#: with room for a loaded machine. Without time-outs a write waits for the whole freeze.
WRITE_BOUND_S = 7.0
#: Once the store knows, a write fails at once instead of waiting its 3 s deadline.
FAIL_FAST_S = 1.5
#: Reads and heartbeats wait at most for a worker thread that the first writes still hold.
READ_BOUND_S = 5.0
#: How long the proxy stays frozen at most (the test resumes it once the writers are done).
FREEZE_MAX_S = 10.0
WRITERS = 12
#: A second burst of writers, once the store knows (waitress has 8 worker threads).
LATE_WRITERS = 8

UNREACHABLE = re.compile(r"SQL store: the database is unreachable")
BACK = re.compile(r"SQL store: the database is reachable again")


def migrated_url(kind: str) -> sa.URL:
    url = server_database_url(kind)
    engine = create_store_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return sa.make_url(url)


def through(proxy: FreezingProxy, url: sa.URL) -> str:
    proxied = url.set(host="127.0.0.1", port=proxy.port).update_query_dict(TIMEOUTS)
    return proxied.render_as_string(hide_password=False)


def timed(call: Callable[[], int]) -> tuple[int, float]:
    started = time.monotonic()
    try:
        status = call()
    except OSError:  # the client gave up: no answer in time
        status = 0
    return status, time.monotonic() - started


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_writes_answer_503_and_reads_go_on_while_the_database_does_not_answer(kind: str) -> None:
    url = migrated_url(kind)
    assert url.host is not None and url.port is not None
    with (
        freezing_proxy((url.host, url.port)) as proxy,
        serve_process(["--store", through(proxy, url)]) as server,
    ):
        base = server.base_url

        def write(instance_id: str) -> int:
            body = register_body("HANG", instance_id)
            url = f"{base}apps/HANG"
            answer = request(url, "POST", body=body, headers=JSON_HEADERS, timeout=30)
            return answer.status

        def read(path: str, method: str = "GET") -> int:
            return request(f"{base}{path}", method, headers=JSON_HEADERS, timeout=30).status

        assert write("steady") == 204
        proxy.freeze()
        frozen_at = time.monotonic()
        with ThreadPoolExecutor(WRITERS) as pool:
            writes: list[Future[tuple[int, float]]] = [
                pool.submit(timed, partial(write, f"w{i}")) for i in range(WRITERS)
            ]
            reads: list[tuple[str, int, float]] = []
            while not all(w.done() for w in writes) and time.monotonic() - frozen_at < FREEZE_MAX_S:
                for path, method in (
                    ("apps/HANG/steady", "PUT"),  # a heartbeat
                    ("apps", "GET"),
                    ("status", "GET"),
                ):
                    reads.append((f"{method} {path}", *timed(partial(read, path, method))))
            late = [pool.submit(timed, partial(write, f"late{i}")) for i in range(LATE_WRITERS)]
            while not all(w.done() for w in late) and time.monotonic() - frozen_at < FREEZE_MAX_S:
                reads.append(("GET apps", *timed(partial(read, "apps"))))
            still_frozen_s = time.monotonic() - frozen_at
            proxy.resume()  # at the latest after FREEZE_MAX_S, so the test stays bounded
            written = [w.result() for w in writes]
            written_late = [w.result() for w in late]

        assert [status for status, _ in written] == [503] * WRITERS, written
        assert max(elapsed for _, elapsed in written) < WRITE_BOUND_S, written
        assert [status for status, _ in written_late] == [503] * LATE_WRITERS, written_late
        assert max(elapsed for _, elapsed in written_late) < FAIL_FAST_S, written_late
        assert still_frozen_s < FREEZE_MAX_S
        assert reads
        assert all(status == 200 for _, status, _ in reads), reads
        assert max(elapsed for _, _, elapsed in reads) < READ_BOUND_S, reads

        # Back: the store notices on its own (no write needs to fail first) and writes go on.
        server.stderr.wait_for(BACK, timeout=15)
        assert wait_for(lambda: write("after") == 204, timeout=10, what="a write after resume")
        apps = request(f"{base}apps/HANG", headers=JSON_HEADERS).json()
        ids = {i["instanceId"] for i in apps["application"]["instance"]}
        assert ids == {"steady", "after"}  # the refused writes were not applied
        log = server.stderr.text()
        assert len(UNREACHABLE.findall(log)) == 1, log
        assert len(BACK.findall(log)) == 1, log
