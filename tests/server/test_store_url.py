"""Choosing a store from a URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from eureka_embed.errors import InvalidInput, StorageError, StorageUnavailable
from eureka_embed.storage import MemoryStore, migrate, store_from_url
from eureka_embed.storage.sql import SqlStore
from tests.databases import server_database_url


def test_memory_url_gives_a_fresh_memory_store() -> None:
    first, second = store_from_url("memory://"), store_from_url("MEMORY://")

    assert isinstance(first, MemoryStore)
    assert isinstance(second, MemoryStore)
    assert first is not second


def test_sqlite_urls_give_a_migrated_sql_store(tmp_path: Path) -> None:
    for url in (f"sqlite:///{tmp_path / 'registry.db'}", "sqlite://"):
        store = store_from_url(url)
        try:
            assert isinstance(store, SqlStore)
            assert migrate.is_up_to_date(store.engine)
        finally:
            store.close()


def test_a_server_database_with_an_old_schema_is_refused_unless_asked_to_migrate() -> None:
    url = server_database_url("postgresql")
    with pytest.raises(StorageError, match="eureka-embed db upgrade"):
        store_from_url(url)
    store_from_url(url, auto_migrate=True).close()
    store_from_url(url).close()  # now current


def test_an_unreachable_database_is_storage_unavailable() -> None:
    with pytest.raises(StorageUnavailable, match=r"x:\*\*\*@127\.0\.0\.1:1"):
        store_from_url("postgresql+psycopg://x:secret@127.0.0.1:1/eureka")


def test_an_unknown_driver_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="no database driver"):
        store_from_url("mysql+nodriver://db/eureka")


def test_unknown_scheme_lists_what_is_supported() -> None:
    with pytest.raises(
        InvalidInput, match=r"unsupported store URL 'redis://cache'.*memory://.*sqlite"
    ):
        store_from_url("redis://cache")


@pytest.mark.parametrize("url", ["", "memory", "registry.db", "://x"])
def test_a_url_without_scheme_is_refused(url: str) -> None:
    with pytest.raises(InvalidInput, match="has no scheme"):
        store_from_url(url)


def test_memory_takes_no_options() -> None:
    with pytest.raises(InvalidInput, match="memory:// takes no host, path or options"):
        store_from_url("memory://somewhere?size=10")


def test_passwords_never_appear_in_errors() -> None:
    with pytest.raises(InvalidInput) as caught:
        store_from_url("redis://eureka:s3cret@db.example:5432/eureka")

    assert "s3cret" not in caught.value.reason
    assert "eureka:***@db.example:5432" in caught.value.reason


def test_passwords_stay_hidden_even_in_an_unparsable_url() -> None:
    with pytest.raises(InvalidInput) as caught:
        store_from_url("redis://eureka:s3cret@db:99999999/eureka")

    assert "s3cret" not in caught.value.reason
