"""Alembic environment for eureka_embed's SQL store; run from code by eureka_embed.storage.migrate.

The caller passes an open connection in ``config.attributes["connection"]``; a URL in the
config's ``sqlalchemy.url`` works too (the plain ``alembic`` command line).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from eureka_embed.storage.sql_schema import metadata

config = context.config


def run_with(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table="eureka_alembic_version",
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_with(connection)
else:
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        run_with(conn)
    engine.dispose()
