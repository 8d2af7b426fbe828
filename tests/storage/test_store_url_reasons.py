"""What ``store_from_url`` says about a URL it cannot use: the URL as given, its secret masked,
and what to do (found by mutation testing; a malformed port was a bare ValueError before).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from eureka_embed.errors import InvalidInput, StorageError
from eureka_embed.storage.url import store_from_url

SUPPORTED = "(supported: memory://, sqlite:///FILE, sqlite://, postgresql+psycopg://..., "


def refusal(url: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        store_from_url(url)
    return caught.value.reason


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nosuch://u:pw@/db", "nosuch://u:***@/db"),  # no host
        ("nosuch://:pw@h/db", "nosuch://:***@h/db"),  # no user name
        ("nosuch://u:pw@h:bad/x://y", "nosuch://***"),  # unparsable: only the scheme is shown
    ],
)
def test_the_password_is_masked_however_the_url_is_written(url: str, shown: str) -> None:
    assert refusal(url) == f"unsupported store URL {shown!r} {SUPPORTED}mysql+pymysql://...)"


def test_only_the_first_separator_ends_the_scheme() -> None:
    assert refusal("memory://a://b") == (
        "store URL 'memory://a://b': memory:// takes no host, path or options"
    )


def test_a_malformed_port_is_invalid_input_naming_the_url() -> None:
    assert refusal("mysql://u@h:12x/db").startswith(
        "store URL 'mysql://u@h:12x/db' is not a valid database URL: "
    )


def test_a_missing_driver_says_what_to_install() -> None:
    assert refusal("postgresql+pg8000://u@127.0.0.1:1/x") == (
        "store URL 'postgresql+pg8000://u@127.0.0.1:1/x': its database driver is not installed "
        "(pg8000); pip install 'eureka_embed[postgresql]' or 'eureka_embed[mariadb]'"
    )


def test_without_the_sql_extra_a_sql_url_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "eureka_embed.storage.sql", None)  # import fails
    assert refusal("sqlite://") == (
        "store URL 'sqlite://' needs the sql extra: pip install 'eureka_embed[sql]'"
    )


def test_an_explicit_no_to_migration_holds_for_sqlite_too(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="eureka-embed db upgrade"):
        store_from_url(f"sqlite:///{tmp_path / 'eureka.db'}", auto_migrate=False)
