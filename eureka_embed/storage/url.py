"""Choosing a store from a URL, as the command line and configuration files name them.

``memory://`` gives a MemoryStore; SQLAlchemy URLs (``sqlite:///eureka.db``, ``sqlite://``,
``postgresql+psycopg://...``, ``mysql+pymysql://...``) give a SqlStore, when the ``sql`` extra is
installed (the error says so when it is not).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from eureka_embed.errors import InvalidInput
from eureka_embed.storage.base import Store
from eureka_embed.storage.memory import MemoryStore

__all__ = ["store_from_url"]


@dataclass(frozen=True, slots=True)
class _StoreUrl:
    """A store URL taken apart: as given, as shown in messages, and its pieces."""

    url: str
    shown: str  # the password masked
    scheme: str  # lower case, with any +driver
    rest: str  # after "://"

    @property
    def dialect(self) -> str:
        return self.scheme.partition("+")[0]


def _memory_store(url: _StoreUrl, auto_migrate: bool | None) -> Store:
    if url.rest:
        raise InvalidInput(f"store URL {url.shown!r}: memory:// takes no host, path or options")
    return MemoryStore()


def _sql_store(url: _StoreUrl, auto_migrate: bool | None) -> Store:
    shown = url.shown
    try:
        import sqlalchemy as sa

        from eureka_embed.storage.sql import SqlStore
    except ImportError:
        raise InvalidInput(
            f"store URL {shown!r} needs the sql extra: pip install 'eureka_embed[sql]'"
        ) from None
    try:
        sa.make_url(url.url)
    except (sa.exc.ArgumentError, ValueError) as exc:  # a non-numeric port is a ValueError
        raise InvalidInput(f"store URL {shown!r} is not a valid database URL: {exc}") from None
    migrate = url.dialect == "sqlite" if auto_migrate is None else auto_migrate
    try:
        return SqlStore(url.url, migrate_schema=migrate)
    except sa.exc.NoSuchModuleError as exc:
        raise InvalidInput(f"store URL {shown!r}: no database driver for it ({exc})") from None
    except ModuleNotFoundError as exc:
        raise InvalidInput(
            f"store URL {shown!r}: its database driver is not installed ({exc.name}); "
            "pip install 'eureka_embed[postgresql]' or 'eureka_embed[mariadb]'"
        ) from None


#: The store for each scheme (the part before any ``+driver``; for SQL, SQLAlchemy's dialect
#: names). A new backend is one line here.
_FACTORIES: dict[str, Callable[[_StoreUrl, bool | None], Store]] = {
    "memory": _memory_store,
    "sqlite": _sql_store,
    "postgresql": _sql_store,
    "postgres": _sql_store,
    "mysql": _sql_store,
    "mariadb": _sql_store,
}

_SUPPORTED = "memory://, sqlite:///FILE, sqlite://, postgresql+psycopg://..., mysql+pymysql://..."


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
    parsed = _StoreUrl(url, shown, scheme.lower(), rest)
    factory = _FACTORIES.get(parsed.dialect)
    if factory is None:
        raise InvalidInput(f"unsupported store URL {shown!r} (supported: {_SUPPORTED})")
    return factory(parsed, auto_migrate)


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
