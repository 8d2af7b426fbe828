"""The plugin is loaded by every pytest run where eureka_embed is installed: it must be cheap.

Checked in fresh interpreters, since this one has imported everything long ago.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.plugin.support import plugin_args, write_ini

pytest_plugins = ["pytester"]

HEAVY = ("falcon", "waitress", "sqlalchemy", "alembic", "freezegun")

REPORT = f"""
import json, sys
HEAVY = {HEAVY!r}
def loaded():
    return sorted(name for name in HEAVY if name in sys.modules)
"""


def test_importing_the_plugin_imports_nothing_heavy() -> None:
    code = REPORT + "import eureka_embed.pytest_plugin\nprint(json.dumps(loaded()))"

    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )

    assert json.loads(done.stdout) == []


def test_heavy_modules_wait_for_the_fixtures_that_need_them(pytester: pytest.Pytester) -> None:
    write_ini(pytester)
    pytester.makepyfile(
        REPORT
        + """
import pytest


@pytest.fixture(scope="module", autouse=True)
def at_start():
    # Collected, plugin configured, options read: still nothing heavy.
    assert loaded() == []


def test_1_a_memory_registry_needs_none(eureka_registry):
    assert loaded() == []


def test_2_frozen_time_needs_freezegun(eureka_time, eureka_registry):
    assert loaded() == ["freezegun"]


def test_3_sqlite_needs_sqlalchemy(eureka_sqlite_registry):
    assert "sqlalchemy" in loaded() and "falcon" not in loaded()


def test_4_the_server_needs_falcon_and_waitress(eureka_server):
    assert {"falcon", "waitress"} <= set(loaded())
"""
    )

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *plugin_args())

    result.assert_outcomes(passed=4)
