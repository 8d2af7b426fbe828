"""Leases, renewals, change log and sequence tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

PayloadText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "eureka_leases",
        sa.Column("app", sa.String(255), primary_key=True),
        sa.Column("instance_id", sa.String(255), primary_key=True),
        sa.Column("instance", PayloadText, nullable=False),
        sa.Column("override", sa.String(16), nullable=True),
        sa.Column("duration_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "eureka_renewals",
        sa.Column("app", sa.String(255), primary_key=True),
        sa.Column("instance_id", sa.String(255), primary_key=True),
        sa.Column("last_renewal_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_eureka_renewals_last_renewal_ms", "eureka_renewals", ["last_renewal_ms"])
    op.create_table(
        "eureka_changes",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("app", sa.String(255), nullable=False),
        sa.Column("instance_id", sa.String(255), nullable=False),
        sa.Column("instance", PayloadText, nullable=False),
    )
    op.create_index("ix_eureka_changes_timestamp_ms", "eureka_changes", ["timestamp_ms"])
    sequence = op.create_table(
        "eureka_sequence",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(sequence, [{"name": "changes", "value": 0}])


def downgrade() -> None:
    op.drop_table("eureka_sequence")
    op.drop_index("ix_eureka_changes_timestamp_ms", table_name="eureka_changes")
    op.drop_table("eureka_changes")
    op.drop_index("ix_eureka_renewals_last_renewal_ms", table_name="eureka_renewals")
    op.drop_table("eureka_renewals")
    op.drop_table("eureka_leases")
