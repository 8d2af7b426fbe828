"""``eureka-embed db upgrade|current`` and how ``serve`` treats an out-of-date schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from eureka_embed.cli import main
from tests.databases import server_database_url


def test_db_current_then_upgrade_on_a_sqlite_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    assert main(["db", "current", "--store", url]) == 0
    assert "revision none, not current" in capsys.readouterr().out
    assert main(["db", "upgrade", "--store", url]) == 0
    assert "schema upgraded to revision" in capsys.readouterr().out
    assert main(["db", "current", "--store", url]) == 0
    assert capsys.readouterr().out.rstrip().endswith(", current")


def test_db_command_takes_the_store_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EUREKA_EMBED_STORE", f"sqlite:///{tmp_path / 'env.db'}")
    assert main(["db", "upgrade"]) == 0
    assert "env.db" in capsys.readouterr().out


def test_db_command_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "current", "--store", "postgresql+psycopg://x:pw@127.0.0.1:1/x"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "pw" not in err.replace("psycopg", "")
    assert main(["db", "upgrade", "--store", "nosuch://x"]) == 2
    assert main(["db"]) == 2


def test_serve_refuses_an_out_of_date_server_database(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = server_database_url("postgresql")
    assert main(["serve", "--port", "0", "--store", url]) == 1
    err = capsys.readouterr().err
    assert "eureka-embed db upgrade --store URL" in err
    assert err.count("\n") == 1
