"""The session settings the store's engine gives each server database (found by mutation
testing; the mutation run leaves these databases out, so these tests kill those mutants when run
against PostgreSQL and MariaDB): READ COMMITTED even where the server's default differs, and a
session that a frozen client left inside a transaction is dropped after twice the client deadline.
"""

from __future__ import annotations

import pytest

from eureka_embed.storage.sql_engine import SqlTimeouts, create_store_engine
from tests.databases import server_database_url

SHORT = SqlTimeouts(connect=2, statement=2, lock=1)  # client deadline 3 s: idle limit 6 s

SETTINGS = {
    "postgresql": (
        "SELECT current_setting('transaction_isolation'), "
        "current_setting('idle_in_transaction_session_timeout')",
        ("read committed", "6s"),
    ),
    "mariadb": (
        "SELECT @@SESSION.tx_isolation, @@SESSION.idle_transaction_timeout",
        ("READ-COMMITTED", 6),
    ),
}

#: A server default stricter than the store's (MariaDB's own default is REPEATABLE READ).
STRICTER_DEFAULT = {"postgresql": "?options=-c%20default_transaction_isolation%3Dserializable"}


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_store_sessions_read_committed_and_drop_idle_transactions(kind: str) -> None:
    url = server_database_url(kind) + STRICTER_DEFAULT.get(kind, "")
    engine = create_store_engine(url, timeouts=SHORT)
    query, expected = SETTINGS[kind]
    try:
        with engine.connect() as conn:
            assert tuple(conn.exec_driver_sql(query).one()) == expected
    finally:
        engine.dispose()
