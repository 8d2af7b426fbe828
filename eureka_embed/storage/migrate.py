"""Alembic migrations of the SQL store, run from code (``eureka-embed db upgrade``).

The migration scripts live in the project's top-level ``migrations/`` folder; the wheel
carries them inside the package as ``eureka_embed/migrations``.

A migration may rebuild a table, which can take longer than the store's statement time-out
(see :class:`~eureka_embed.storage.sql_engine.SqlTimeouts`): the database's own statement
time-out is lifted for the migration's session. Its lock time-out stays, so a migration that
cannot get its table lock fails instead of making every node's writes queue behind it.
(pymysql's client read time-out still applies to each statement.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

__all__ = [
    "VERSION_TABLE",
    "current_revision",
    "downgrade",
    "head_revision",
    "is_up_to_date",
    "migrations_dir",
    "upgrade",
]

VERSION_TABLE = "eureka_alembic_version"


def migrations_dir() -> Path:
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "migrations", package.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("eureka_embed's migrations folder is missing from this install")


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migration revisions found")
    return head


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def is_up_to_date(engine: sa.Engine) -> bool:
    return current_revision(engine) == head_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    with engine.begin() as connection, _without_statement_timeout(connection):
        command.upgrade(_config(connection), revision)


def downgrade(engine: sa.Engine, revision: str) -> None:
    with engine.begin() as connection, _without_statement_timeout(connection):
        command.downgrade(_config(connection), revision)


@contextlib.contextmanager
def _without_statement_timeout(connection: sa.Connection) -> Iterator[None]:
    dialect = connection.dialect
    if dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL statement_timeout = 0")  # this transaction only
        yield
    elif dialect.name == "mysql" and getattr(dialect, "is_mariadb", False):
        before = connection.exec_driver_sql("SELECT @@SESSION.max_statement_time").scalar()
        connection.exec_driver_sql("SET SESSION max_statement_time = 0")
        try:
            yield
        finally:  # the connection goes back to the pool with the store's setting
            connection.exec_driver_sql(f"SET SESSION max_statement_time = {float(before or 0)}")
    else:
        yield
