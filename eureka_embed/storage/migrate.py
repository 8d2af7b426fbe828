"""Alembic migrations of the SQL store, run from code (``eureka-embed db upgrade``).

The migration scripts live in the project's top-level ``migrations/`` folder; the wheel
carries them inside the package as ``eureka_embed/migrations``.
"""

from __future__ import annotations

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
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def downgrade(engine: sa.Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.downgrade(_config(connection), revision)
