"""Choosing a store from a URL, as the command line and configuration files name them.

``memory://`` is the only scheme today. SQL URLs (``sqlite:///...``, ``postgresql+psycopg://...``)
are recognised so that their error says what to install instead of "unknown scheme".
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from eureka_embed.errors import InvalidInput
from eureka_embed.storage.base import Store
from eureka_embed.storage.memory import MemoryStore

__all__ = ["store_from_url"]

#: SQLAlchemy dialect names (the part before any ``+driver``) that the SQL store will take.
_SQL_DIALECTS = frozenset({"sqlite", "postgresql", "postgres", "mysql", "mariadb"})


def store_from_url(url: str) -> Store:
    """A new store for ``url``; the caller owns it and closes it.

    :raises InvalidInput: the URL is malformed or names a store this installation lacks.
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
    if scheme.partition("+")[0] in _SQL_DIALECTS:
        raise InvalidInput(
            f"unsupported store URL {shown!r} (SQL stores arrive with the sql extra)"
        )
    raise InvalidInput(
        f"unsupported store URL {shown!r} (supported: memory://; "
        "SQL stores arrive with the sql extra)"
    )


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
