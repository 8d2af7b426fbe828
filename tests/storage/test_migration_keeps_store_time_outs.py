"""A migration lifts the database's statement time-out for its own session only: the store's
connections afterwards have the store's time-out again (found by mutation testing: only
reachable on the server databases, which the mutation run leaves out)."""

from __future__ import annotations

import pytest
from sqlalchemy.pool import QueuePool

from eureka_embed.storage import migrate
from eureka_embed.storage.sql_engine import SqlTimeouts, create_store_engine
from tests.databases import server_database_url

STATEMENT_TIME_OUT = {
    "postgresql": ("SELECT current_setting('statement_timeout')", "3s"),
    "mariadb": ("SELECT @@SESSION.max_statement_time", 3.0),
}


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_after_a_migration_the_store_s_statement_time_out_holds_again(kind: str) -> None:
    engine = create_store_engine(server_database_url(kind), timeouts=SqlTimeouts(statement=3))
    query, expected = STATEMENT_TIME_OUT[kind]
    try:
        migrate.upgrade(engine)
        migrate.downgrade(engine, "base")
        migrate.upgrade(engine)
        assert migrate.is_up_to_date(engine)
        # The pool hands back the connection the migration used.
        assert isinstance(engine.pool, QueuePool)
        assert engine.pool.checkedin() == 1
        with engine.connect() as conn:
            assert conn.exec_driver_sql(query).scalar() == expected
    finally:
        engine.dispose()
