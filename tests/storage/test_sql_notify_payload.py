"""PostgreSQL NOTIFY (storage/sql_listen.py): what a write announces on the store's channel.

The payload is documented as ``"<sequence> <node token>"``; a listening node compares the
sequence with its own to skip what it has caught up with. Read here by a plain LISTEN of the
test's own, as any tool watching the channel would (found by mutation testing: a payload without
the sequence passed every test, each notification then costing the other nodes a catch-up).
"""

from __future__ import annotations

import psycopg
import psycopg.sql
import sqlalchemy as sa

from eureka_embed.registry import Registry
from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_listen import find_channel
from tests.registry.helpers import instance
from tests.storage import test_sql_listen
from tests.storage.test_sql_listen import NO_POLL, WAKE_TIMEOUT

#: The fixture of test_sql_listen.py: the emptied PostgreSQL test database, migrated.
pg_url = test_sql_listen.pg_url


def test_each_write_announces_its_sequence_and_the_writers_token(pg_url: str) -> None:
    plain = sa.make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    store = SqlStore(pg_url, sync_interval=NO_POLL, background=False)
    try:
        with store.engine.connect() as conn:
            channel = find_channel(conn)
        with psycopg.connect(plain, autocommit=True) as watcher:
            watcher.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(channel)))
            registry = Registry(store)
            registry.register(instance(1))
            first = store.latest_sequence()
            registry.register(instance(2))
            second = store.latest_sequence()
            payloads = [n.payload for n in watcher.notifies(timeout=WAKE_TIMEOUT, stop_after=2)]
    finally:
        store.close()
    assert second > first
    words = [payload.split(" ") for payload in payloads]
    assert [w[0] for w in words] == [str(first), str(second)]
    tokens = {w[1] for w in words}
    assert len(tokens) == 1 and all(len(w) == 2 for w in words)
    (token,) = tokens
    assert len(token) == 16 and int(token, 16) >= 0  # 8 random bytes in hex, one per node
