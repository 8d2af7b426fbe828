"""On MariaDB the table definitions (``sql_schema.metadata``, which Alembic compares new
migrations against and ``create_all`` builds from) give app names and instance ids the same
exact column type as the migrations do: ``utf8mb4`` with the binary NO PAD collation.

Alembic's type comparison does not look at collations, so only the built columns tell
(found by mutation testing of ``KeyString.load_dialect_impl``)."""

from __future__ import annotations

import sqlalchemy as sa

from eureka_embed.storage import migrate
from eureka_embed.storage.sql_schema import metadata
from tests.databases import drop_schema, server_database_url

_KEY_COLUMNS = sa.text(
    "SELECT table_name, column_name, column_type, character_set_name, collation_name"
    " FROM information_schema.columns"
    " WHERE table_schema = DATABASE() AND table_name LIKE 'eureka%'"
    " AND column_name IN ('app', 'instance_id')"
    " ORDER BY table_name, column_name"
)


def key_columns(engine: sa.Engine) -> list[tuple[str, ...]]:
    with engine.connect() as conn:
        return [tuple(str(value) for value in row) for row in conn.execute(_KEY_COLUMNS)]


def test_tables_built_from_the_definitions_have_the_migrations_exact_key_columns() -> None:
    url = server_database_url("mariadb")
    engine = sa.create_engine(url)
    try:
        migrate.upgrade(engine)
        migrated = key_columns(engine)
        drop_schema(url)
        metadata.create_all(engine)
        built = key_columns(engine)
    finally:
        engine.dispose()
        drop_schema(url)
    assert migrated, "no key columns found"
    assert {row[2:] for row in migrated} == {("varchar(255)", "utf8mb4", "utf8mb4_nopad_bin")}
    assert built == migrated
