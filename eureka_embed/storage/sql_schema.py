"""The SQL schema of SqlStore, as SQLAlchemy Core tables (Alembic migrations must match it).

- ``eureka_leases``: one row per lease; the instance as Eureka JSON, its status override and
  lease duration.
- ``eureka_renewals``: the last renewal of each lease, apart from the wide lease row because
  heartbeats rewrite it in batches of thousands (a narrow row is several times cheaper).
- ``eureka_changes``: the change log; ``seq`` is assigned under the lock on
  ``eureka_sequence``, so changes commit in sequence order and a reader that has seen
  sequence N has seen every change up to N.
- ``eureka_sequence``: a single row holding the latest sequence number.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

__all__ = ["SEQUENCE_NAME", "changes", "leases", "metadata", "renewals", "sequence"]

#: Instance payloads can exceed MariaDB's 64 KiB TEXT with large metadata maps.
PayloadText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

metadata = sa.MetaData()

leases = sa.Table(
    "eureka_leases",
    metadata,
    sa.Column("app", sa.String(255), primary_key=True),
    sa.Column("instance_id", sa.String(255), primary_key=True),
    sa.Column("instance", PayloadText, nullable=False),
    sa.Column("override", sa.String(16), nullable=True),
    sa.Column("duration_ms", sa.BigInteger, nullable=False),
)

renewals = sa.Table(
    "eureka_renewals",
    metadata,
    sa.Column("app", sa.String(255), primary_key=True),
    sa.Column("instance_id", sa.String(255), primary_key=True),
    sa.Column("last_renewal_ms", sa.BigInteger, nullable=False),
    sa.Index("ix_eureka_renewals_last_renewal_ms", "last_renewal_ms"),
)

changes = sa.Table(
    "eureka_changes",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("app", sa.String(255), nullable=False),
    sa.Column("instance_id", sa.String(255), nullable=False),
    sa.Column("instance", PayloadText, nullable=False),
    sa.Index("ix_eureka_changes_timestamp_ms", "timestamp_ms"),
)

SEQUENCE_NAME = "changes"

sequence = sa.Table(
    "eureka_sequence",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
