"""Every example runs: each ``--check`` (or test run) is the example's own story, end to end.

``examples/embed_in_wsgi_app.py`` is run by tests/wsgi/test_mounting.py, next to the tests of
what it demonstrates.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from eureka_embed.config import RegistryConfig
from eureka_embed.model import ActionType
from eureka_embed.testing import live_server, memory_registry
from tests.databases import server_database_url
from tests.plugin.support import plugin_args
from tests.server.support import child_env

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
#: Examples and where they are run; a new example must be added here (and run).
RUN_BY = {
    "embed_in_wsgi_app.py": "tests/wsgi/test_mounting.py",
    "discovery_service.py": __name__,
    "pytest_fixtures": __name__,
    "cluster.py": __name__,
    "fastapi_registry.py": "tests/examples/test_fastapi_registry.py",
    "fastapi_service.py": "tests/examples/test_fastapi_service.py",
}


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_ok(done: subprocess.CompletedProcess[str], marker: str = "ok:") -> None:
    assert done.returncode == 0, done.stdout + done.stderr
    assert marker in done.stdout, done.stdout


def test_every_example_is_run_somewhere() -> None:
    found = {path.name for path in EXAMPLES.iterdir() if not path.name.startswith((".", "_"))}

    assert found == set(RUN_BY)


def test_discovery_service_with_its_own_server() -> None:
    done = run("examples/discovery_service.py", "--check")

    assert_ok(done)
    assert "frontend -> 127.0.0.1:quotes:" in done.stdout


def test_discovery_service_registers_and_deregisters_on_a_given_server() -> None:
    registry = memory_registry(RegistryConfig())  # Eureka's defaults, as a real server has
    try:
        with live_server(registry) as server:
            done = run("examples/discovery_service.py", "--check", "--eureka", server.base_url)

        assert_ok(done)
        actions = {(i.app, i.action_type) for i in registry.get_delta().instances()}
        assert {("QUOTES", ActionType.DELETED), ("FRONTEND", ActionType.DELETED)} <= actions
        assert list(registry.get_applications().instances()) == []
    finally:
        registry.close()


def test_pytest_fixtures_example_passes_under_the_projects_strict_settings() -> None:
    done = run(
        "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin_args(), "examples/pytest_fixtures"
    )

    assert_ok(done, "3 passed")


def test_cluster_of_three_peers() -> None:
    done = run("examples/cluster.py", "peers", "--check")

    assert_ok(done)
    assert done.stdout.count("visible on") == 2
    assert done.stdout.count("gone on") == 2


def test_cluster_of_two_nodes_over_one_postgresql() -> None:
    url = server_database_url("postgresql")

    done = run("examples/cluster.py", "shared-db", "--check", "--database", url)

    assert_ok(done)
    assert "visible on node-2" in done.stdout and "gone on node-1" in done.stdout
