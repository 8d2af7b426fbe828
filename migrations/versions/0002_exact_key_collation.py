"""App names and instance ids compare exactly on MariaDB and MySQL.

The key columns had the server's default collation (``utf8mb4_general_ci`` on MariaDB), which
takes ``host-a``/``HOST-A``, ``cafe``/``café`` and ``pad``/``pad `` for one key; they get a
binary NO PAD collation (see ``sql_schema.exact_collation``). Existing rows are kept: keys that
were distinct under the old collation stay distinct under the stricter one. PostgreSQL and
SQLite already compare exactly: nothing to do there.

Downgrading fails (and changes nothing) if the tables hold keys that only the exact collation
tells apart, as such rows would collide in the old primary keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

from eureka_embed.storage.sql_schema import KEY_LENGTH, exact_collation

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("eureka_leases", "eureka_renewals", "eureka_changes")


def _modify_keys(collate: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "mysql":  # MariaDB too
        return
    column = f"VARCHAR({KEY_LENGTH}) CHARACTER SET utf8mb4{collate} NOT NULL"
    for table in TABLES:
        # One ALTER per table: the table is rebuilt once for both columns.
        op.execute(f"ALTER TABLE {table} MODIFY app {column}, MODIFY instance_id {column}")


def upgrade() -> None:
    _modify_keys(f" COLLATE {exact_collation(op.get_bind().dialect)}")


def downgrade() -> None:
    _modify_keys("")  # back to the table's default collation
