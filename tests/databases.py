"""The SQL databases the tests run against, and a clean schema for each test."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from eureka_embed.storage.sql_schema import metadata
from tests.integration.requirements import require


@dataclass(frozen=True)
class Database:
    name: str  # as EUREKA_EMBED_REQUIRE spells it
    url: str


SERVER_DATABASES = {
    "postgresql": Database(
        "postgres",
        os.environ.get(
            "EUREKA_EMBED_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    ),
    "mariadb": Database(
        "mariadb",
        os.environ.get("EUREKA_EMBED_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test"),
    ),
}


@cache
def unreachable_reason(url: str) -> str | None:
    engine = sa.create_engine(url, connect_args=_connect_timeout(url))
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure to connect means "not here"
        return f"{sa.make_url(url).render_as_string()}: {type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        engine.dispose()
    return None


def _connect_timeout(url: str) -> dict[str, int]:
    backend = sa.make_url(url).get_backend_name()
    return {"connect_timeout": 3} if backend in ("postgresql", "mysql", "mariadb") else {}


def server_database_url(kind: str) -> str:
    """The URL of a running server database of ``kind``, emptied; skips (or fails) if absent."""
    database = SERVER_DATABASES[kind]
    reason = unreachable_reason(database.url)
    require(database.name, reason is None, reason or "")
    drop_schema(database.url)
    return database.url


def drop_schema(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            metadata.drop_all(conn)
            conn.execute(sa.text("DROP TABLE IF EXISTS eureka_alembic_version"))
    finally:
        engine.dispose()


def sqlite_file_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'eureka.db'}"


class FlakyDatabase:
    """A real database reached through a switch: when down, new connections are refused."""

    def __init__(self, url: str) -> None:
        self.down = False
        #: When each connection was asked for (time.monotonic()), refused or not.
        self.attempts: list[float] = []
        dialect = sa.create_engine(url).dialect
        cargs, cparams = dialect.create_connect_args(sa.make_url(url))

        def connect() -> Any:
            self.attempts.append(time.monotonic())
            if self.down:
                raise dialect.loaded_dbapi.OperationalError("connection refused (test)")
            return dialect.connect(*cargs, **cparams)

        self.engine = sa.create_engine(url, creator=connect, poolclass=NullPool)

    def dispose(self) -> None:
        self.engine.dispose()
