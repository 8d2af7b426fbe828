"""The SQL schema of SqlStore, as SQLAlchemy Core tables (Alembic migrations must match it).

- ``eureka_leases``: one row per lease; the instance as Eureka JSON, its status override and
  lease duration.
- ``eureka_renewals``: the last renewal of each lease, apart from the wide lease row because
  heartbeats rewrite it in batches of thousands (a narrow row is several times cheaper).
- ``eureka_changes``: the change log; ``seq`` is assigned under the lock on
  ``eureka_sequence``, so changes commit in sequence order and a reader that has seen
  sequence N has seen every change up to N.
- ``eureka_sequence``: a single row holding the latest sequence number.

App names and instance ids (:class:`KeyString`) compare exactly, as in the memory store: on
MariaDB and MySQL their default collations ignore case, accents and trailing spaces, and would
take two registrations for one row.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

__all__ = [
    "KEY_LENGTH",
    "SEQUENCE_NAME",
    "KeyString",
    "changes",
    "exact_collation",
    "leases",
    "metadata",
    "renewals",
    "sequence",
]

#: Characters of an app name or instance id.
KEY_LENGTH = 255


def exact_collation(dialect: sa.Dialect) -> str:
    """The MariaDB/MySQL collation that compares code point by code point, trailing spaces too.

    ``utf8mb4_bin`` is not enough: on MariaDB it is PAD SPACE (``'pad' = 'pad '``).
    """
    return "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"


class KeyString(sa.types.TypeDecorator[str]):
    """An app name or instance id: ``VARCHAR(255)``, with an exact collation on MariaDB/MySQL.

    The collation depends on the server (MariaDB or MySQL), known once connected, so it is
    chosen per dialect rather than written into the metadata.
    """

    impl = sa.String(KEY_LENGTH)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[str]:
        if dialect.name == "mysql":  # MariaDB too
            exact = mysql.VARCHAR(KEY_LENGTH, charset="utf8mb4", collation=exact_collation(dialect))
            return dialect.type_descriptor(exact)
        return dialect.type_descriptor(sa.String(KEY_LENGTH))


#: Instance payloads can exceed MariaDB's 64 KiB TEXT with large metadata maps.
PayloadText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

metadata = sa.MetaData()

leases = sa.Table(
    "eureka_leases",
    metadata,
    sa.Column("app", KeyString(), primary_key=True),
    sa.Column("instance_id", KeyString(), primary_key=True),
    sa.Column("instance", PayloadText, nullable=False),
    sa.Column("override", sa.String(16), nullable=True),
    sa.Column("duration_ms", sa.BigInteger, nullable=False),
)

renewals = sa.Table(
    "eureka_renewals",
    metadata,
    sa.Column("app", KeyString(), primary_key=True),
    sa.Column("instance_id", KeyString(), primary_key=True),
    sa.Column("last_renewal_ms", sa.BigInteger, nullable=False),
    sa.Index("ix_eureka_renewals_last_renewal_ms", "last_renewal_ms"),
)

changes = sa.Table(
    "eureka_changes",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("app", KeyString(), nullable=False),
    sa.Column("instance_id", KeyString(), nullable=False),
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
