"""PostgreSQL LISTEN/NOTIFY (storage/sql_listen.py): a listener whose ping gets no answer says
why, word for word: the database did not answer within the client deadline (found by mutation
testing: the reason could be lost from the warning without a test failing)."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_engine import SqlTimeouts
from tests.server.support import wait_for
from tests.storage import test_sql_listen
from tests.storage.freezing_proxy import freezing_proxy
from tests.storage.test_sql_listen import NO_POLL
from tests.storage.test_sql_listen_outage_log_and_cleanup import LOGGER, started_listener

#: The fixture of test_sql_listen.py: the emptied PostgreSQL test database, migrated.
pg_url = test_sql_listen.pg_url


def test_a_ping_without_answer_is_reported_with_the_client_deadline(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    url = sa.make_url(pg_url)
    assert url.host is not None
    deadline = SqlTimeouts(connect=2, statement=1).client_deadline
    with freezing_proxy((url.host, url.port or 5432)) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).update_query_dict(
            {"connect_timeout": "2"}  # the reconnect attempts through the frozen path
        )
        store = SqlStore(pg_url, sync_interval=NO_POLL, listen=False)
        engine = sa.create_engine(proxied)
        listener = started_listener(store, engine, ping_after_s=0.2)
        try:
            wait_for(lambda: listener.backend_pid, what="the listener")
            proxy.freeze()  # the next ping goes out and nothing comes back
            wait_for(lambda: listener.backend_pid is None, what="the ping to fail")
        finally:
            proxy.resume()
            listener.stop()
            store.close()
            engine.dispose()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"SQL store: not listening for other nodes' writes (the database did not answer within"
        f" {deadline:g} s); they show at the next poll until the listener reconnects"
    ]
