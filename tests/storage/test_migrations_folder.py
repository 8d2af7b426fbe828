"""Where the SQL store finds its Alembic scripts: inside the package (a wheel) before the
checkout's top-level folder, and a clear error when neither is there (found by mutation
testing: only the checkout layout was exercised)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eureka_embed.storage import migrate


def installed_at(monkeypatch: pytest.MonkeyPatch, root: Path) -> Path:
    """Make ``migrate`` believe the package lives in ``root/eureka_embed``; that folder."""
    package = root / "eureka_embed"
    (package / "storage").mkdir(parents=True)
    monkeypatch.setattr(migrate, "__file__", str(package / "storage" / "migrate.py"))
    return package


def scripts(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "env.py").write_text("# alembic environment\n")
    return folder


def test_a_wheel_uses_the_migrations_it_carries(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    package = installed_at(monkeypatch, tmp_path)
    inside = scripts(package / "migrations")
    scripts(tmp_path / "migrations")  # a stray checkout folder beside it loses
    assert migrate.migrations_dir() == inside


def test_a_checkout_uses_its_top_level_migrations(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    installed_at(monkeypatch, tmp_path)
    (tmp_path / "eureka_embed" / "migrations").mkdir()  # a folder without scripts is skipped
    top = scripts(tmp_path / "migrations")
    assert migrate.migrations_dir() == top


def test_missing_migrations_are_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    installed_at(monkeypatch, tmp_path)
    with pytest.raises(FileNotFoundError) as caught:
        migrate.migrations_dir()
    assert str(caught.value) == "eureka_embed's migrations folder is missing from this install"
