"""Choosing a store from a URL, as the command line and configuration files name them.

``memory://`` gives a MemoryStore; SQLAlchemy URLs (``sqlite:///eureka.db``, ``sqlite://``,
``postgresql+psycopg://...``, ``mysql+pymysql://...``) give a SqlStore, when the ``sql`` extra is
installed (the error says so when it is not).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from eureka_embed.errors import InvalidInput
from eureka_embed.storage.base import Store
from eureka_embed.storage.memory import MemoryStore

__all__ = ["store_from_url"]

#: SQLAlchemy dialect names (the part before any ``+driver``) that the SQL store will take.
_SQL_DIALECTS = frozenset({"sqlite", "postgresql", "postgres", "mysql", "mariadb"})


def store_from_url(url: str, *, auto_migrate: bool | None = None) -> Store:
    """A new store for ``url``; the caller owns it and closes it.

    ``auto_migrate`` upgrades a SQL schema that is not current; by default only SQLite files
    are upgraded (they belong to this process), while a server database shared by several
    nodes is left to ``eureka-embed db upgrade``.

    :raises InvalidInput: the URL is malformed or names a store this installation lacks.
    :raises StorageError: the schema is not current and may not be upgraded here.
    :raises StorageUnavailable: the database cannot be reached.
    """
    shown = _redacted(url)
    scheme, sep, rest = url.strip().partition("://")
    if not sep or not scheme:
        raise InvalidInput(f"store URL {shown!r} has no scheme (expected e.g. memory://)")
    scheme = scheme.lower()
    if scheme == "memory":
        if rest:
            raise InvalidInput(f"store URL {shown!r}: memory:// takes no host, path or options")
        return MemoryStore()
    dialect = scheme.partition("+")[0]
    if dialect in _SQL_DIALECTS:
        return _sql_store(url, shown, dialect, auto_migrate)
    raise InvalidInput(
        f"unsupported store URL {shown!r} (supported: memory://, sqlite:///FILE, sqlite://, "
        "postgresql+psycopg://..., mysql+pymysql://...)"
    )


def _sql_store(url: str, shown: str, dialect: str, auto_migrate: bool | None) -> Store:
    try:
        import sqlalchemy as sa

        from eureka_embed.storage.sql import SqlStore
    except ImportError:
        raise InvalidInput(
            f"store URL {shown!r} needs the sql extra: pip install 'eureka_embed[sql]'"
        ) from None
    try:
        sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise InvalidInput(f"store URL {shown!r} is not a valid database URL: {exc}") from None
    migrate = dialect == "sqlite" if auto_migrate is None else auto_migrate
    try:
        return SqlStore(url, migrate_schema=migrate)
    except sa.exc.NoSuchModuleError as exc:
        raise InvalidInput(f"store URL {shown!r}: no database driver for it ({exc})") from None
    except ModuleNotFoundError as exc:
        raise InvalidInput(
            f"store URL {shown!r}: its database driver is not installed ({exc.name}); "
            "pip install 'eureka_embed[postgresql]' or 'eureka_embed[mariadb]'"
        ) from None


def _redacted(url: str) -> str:
    """``url`` with any password masked: error messages end up in logs and terminals."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        netloc = f"{parts.username or ''}:***@{host}"
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        # An unparsable URL (e.g. a bad port) may still hold a secret: show only its scheme.
        return url.partition("://")[0] + "://***"
