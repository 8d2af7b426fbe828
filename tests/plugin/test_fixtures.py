"""The pytest plugin, as a user's test suite sees it: fixtures, options, overrides."""

from __future__ import annotations

import threading

import pytest

from tests.plugin.support import plugin_args, write_ini

pytest_plugins = ["pytester"]

ORDERS = """
from eureka_embed.model import InstanceInfo

ORDERS = InstanceInfo("h1:orders:8080", "ORDERS", "h1", "10.0.0.1")  # a 90 s lease
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", *plugin_args(), *args)


@pytest.fixture(autouse=True)
def strict_ini(pytester: pytest.Pytester) -> None:
    write_ini(pytester)


def test_every_fixture_works_in_a_users_test_module(pytester: pytest.Pytester) -> None:
    threads_before = set(threading.enumerate())
    pytester.makepyfile(
        ORDERS
        + """
from eureka_embed.registry import Registry
from eureka_embed.storage import MemoryStore
from eureka_embed.storage.sql import SqlStore


def test_memory_registry(eureka_registry):
    eureka_registry.register(ORDERS)
    assert isinstance(eureka_registry.store, MemoryStore)
    assert eureka_registry.get_application("orders") is not None


def test_sqlite_registry(eureka_sqlite_registry, tmp_path):
    eureka_sqlite_registry.register(ORDERS)
    assert isinstance(eureka_sqlite_registry.store, SqlStore)
    assert (tmp_path / "eureka.db").is_file()


def test_server_and_client(eureka_server, eureka_client, eureka_registry):
    assert eureka_server.base_url.startswith("http://127.0.0.1:")
    assert eureka_server.registry is eureka_registry
    assert eureka_client.register(ORDERS).status == 204
    assert eureka_client.get_instance("ORDERS", ORDERS.instance_id).status == 200


def test_time(eureka_time):
    before = eureka_time.now_ms()
    assert eureka_time.advance(5) == before + 5000


def test_registry_config(eureka_registry_config, eureka_registry):
    assert eureka_registry.config is eureka_registry_config
    assert not eureka_registry_config.self_preservation
    assert eureka_registry_config.eviction_interval_ms == 1000
"""
    )

    result = run(pytester)

    result.assert_outcomes(passed=5)
    assert set(threading.enumerate()) <= threads_before  # servers and stores all stopped


def test_advancing_91_seconds_evicts_an_instance_that_never_renewed(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        ORDERS
        + """
import pytest


@pytest.mark.parametrize("fixture", ["eureka_registry", "eureka_sqlite_registry"])
def test_registry(request, fixture, eureka_time):
    registry = request.getfixturevalue(fixture)
    registry.register(ORDERS)
    eureka_time.advance(90)
    assert registry.get_application("ORDERS") is not None
    eureka_time.advance(1)
    assert registry.get_application("ORDERS") is None


def test_over_http(eureka_client, eureka_time):
    assert eureka_client.register(ORDERS).status == 204
    eureka_time.advance(60)
    assert eureka_client.send_heartbeat("ORDERS", ORDERS.instance_id).status == 200
    eureka_time.advance(91)
    assert eureka_client.get_instance("ORDERS", ORDERS.instance_id).status == 404


def test_time_first_or_last_in_the_signature(eureka_time, eureka_registry):
    eureka_registry.register(ORDERS)
    eureka_time.advance(91)
    assert eureka_registry.get_application("ORDERS") is None
"""
    )

    run(pytester).assert_outcomes(passed=4)
    run(pytester, "--eureka-store=sqlite").assert_outcomes(passed=4)  # a server over SQLite


def test_self_preservation_option_keeps_the_instance(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        ORDERS
        + """
def test_kept(eureka_registry, eureka_time):
    eureka_registry.register(ORDERS)
    eureka_time.advance(3600)
    assert eureka_registry.is_self_preservation_active()
    assert eureka_registry.get_application("ORDERS") is not None
"""
    )
    write_ini(pytester, eureka_self_preservation="true")

    run(pytester).assert_outcomes(passed=1)
    run(pytester, "--no-eureka-self-preservation").assert_outcomes(failed=1)


STORE_CHECK = """
from eureka_embed.storage import MemoryStore


def test_store(eureka_server, pytestconfig):
    kind = "memory" if isinstance(eureka_server.registry.store, MemoryStore) else "sqlite"
    assert kind == pytestconfig.getoption("expected")
"""

EXPECTED_OPTION = """
def pytest_addoption(parser):
    parser.addoption("--expected")
"""


@pytest.mark.parametrize(
    ("ini", "flags", "expected"),
    [
        ({}, [], "memory"),
        ({"eureka_store": "sqlite"}, [], "sqlite"),
        ({}, ["--eureka-store=sqlite"], "sqlite"),
        ({"eureka_store": "sqlite"}, ["--eureka-store", "memory"], "memory"),  # the flag wins
    ],
)
def test_the_store_option_as_ini_key_and_flag(
    pytester: pytest.Pytester, ini: dict[str, str], flags: list[str], expected: str
) -> None:
    pytester.makeconftest(EXPECTED_OPTION)
    pytester.makepyfile(STORE_CHECK)
    write_ini(pytester, **ini)

    run(pytester, *flags, f"--expected={expected}").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("ini", "flags", "expected"),
    [
        ({}, [], (False, 1000)),
        ({"eureka_self_preservation": "yes", "eureka_eviction_interval": "60"}, [], (True, 60000)),
        ({}, ["--eureka-self-preservation", "--eureka-eviction-interval=0.25"], (True, 250)),
        (
            {"eureka_self_preservation": "true", "eureka_eviction_interval": "60"},
            ["--no-eureka-self-preservation", "--eureka-eviction-interval", "5"],
            (False, 5000),
        ),
    ],
)
def test_registry_options_as_ini_keys_and_flags(
    pytester: pytest.Pytester,
    ini: dict[str, str],
    flags: list[str],
    expected: tuple[bool, int],
) -> None:
    preservation, interval_ms = expected
    pytester.makepyfile(
        f"""
def test_config(eureka_registry):
    assert eureka_registry.config.self_preservation is {preservation}
    assert eureka_registry.config.eviction_interval_ms == {interval_ms}
"""
    )
    write_ini(pytester, **ini)

    run(pytester, *flags).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("ini", "flags", "message"),
    [
        ({"eureka_store": "redis"}, [], "eureka_store must be one of memory, sqlite, got 'redis'"),
        ({}, ["--eureka-store=redis"], "invalid choice: 'redis'"),
        ({"eureka_self_preservation": "maybe"}, [], "eureka_self_preservation must be true or"),
        ({"eureka_eviction_interval": "0"}, [], "eureka_eviction_interval must be a positive"),
        ({}, ["--eureka-eviction-interval=soon"], "eureka_eviction_interval must be a positive"),
    ],
)
def test_bad_option_values_stop_the_run_with_a_usage_error(
    pytester: pytest.Pytester, ini: dict[str, str], flags: list[str], message: str
) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    write_ini(pytester, **ini)

    result = run(pytester, *flags)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_a_conftest_can_override_the_registry_config(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import pytest

from eureka_embed.config import RegistryConfig


@pytest.fixture
def eureka_registry_config():
    return RegistryConfig()  # Eureka's own defaults
"""
    )
    pytester.makepyfile(
        """
def test_eurekas_defaults(eureka_sqlite_registry):
    config = eureka_sqlite_registry.config
    assert config.self_preservation and config.eviction_interval_ms == 60_000
"""
    )

    run(pytester).assert_outcomes(passed=1)


def test_the_options_are_listed_in_help(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--help")

    result.stdout.fnmatch_lines(
        [
            "eureka_embed fixtures:",
            "*--eureka-store=*",
            "*--eureka-self-preservation, --no-eureka-self-preservation*",
            "*--eureka-eviction-interval=SECONDS*",
        ]
    )
    result.stdout.fnmatch_lines(["*eureka_store (string)*", "*eureka_eviction_interval*"])


def test_the_fixtures_are_documented(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--fixtures")

    for name in (
        "eureka_registry",
        "eureka_sqlite_registry",
        "eureka_server",
        "eureka_client",
        "eureka_time",
        "eureka_registry_config",
    ):
        result.stdout.fnmatch_lines([f"{name} -- *eureka_embed*pytest_plugin.py*", "    *"])
