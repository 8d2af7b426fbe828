"""The ``eureka-embed`` command line: options, environment variables, and errors (no server)."""

from __future__ import annotations

import gc
import re
import subprocess
import sys

import pytest

from eureka_embed.cli import ServeOptions, UsageError, main, parse_serve_options
from tests.server.support import child_env


def test_defaults() -> None:
    options = parse_serve_options([], environ={})

    assert options == ServeOptions()
    assert (options.host, options.port, options.store) == ("127.0.0.1", 8761, "sqlite:///eureka.db")
    assert options.auto_migrate is False
    assert (options.connection_limit, options.request_timeout_s) == (10_000, 30.0)
    assert (options.server, options.threads) == ("waitress", 8)
    config = options.registry_config()
    assert config.self_preservation is True
    assert config.renewal_percent_threshold == 0.85
    assert config.eviction_interval_ms == 60_000


def test_every_flag() -> None:
    options = parse_serve_options(
        [
            "--host=0.0.0.0",
            "--port=9000",
            "--store=memory://",
            "--eviction-interval=0.5",
            "--no-self-preservation",
            "--renewal-percent-threshold=0.5",
            "--log-level=DEBUG",
            "--auto-migrate",
            "--peer=http://b:8761/eureka/,http://c:8761/eureka/",
            "--peer=http://d:8761/eureka/",
            "--connection-limit=20",
            "--request-timeout=2.5",
            "--server=UVICORN",
            "--threads=3",
        ],
        environ={},
    )

    peers = ("http://b:8761/eureka/", "http://c:8761/eureka/", "http://d:8761/eureka/")
    assert options == ServeOptions(
        "0.0.0.0",
        9000,
        "memory://",
        0.5,
        False,
        0.5,
        "debug",
        True,
        peers,
        20,
        2.5,
        server="uvicorn",
        threads=3,
    )
    assert options.registry_config().eviction_interval_ms == 500


ENVIRONMENT = {
    "EUREKA_EMBED_HOST": "::1",
    "EUREKA_EMBED_PORT": "9100",
    "EUREKA_EMBED_STORE": "memory://",
    "EUREKA_EMBED_EVICTION_INTERVAL": "5",
    "EUREKA_EMBED_SELF_PRESERVATION": "false",
    "EUREKA_EMBED_RENEWAL_PERCENT_THRESHOLD": "0.7",
    "EUREKA_EMBED_LOG_LEVEL": "warning",
    "EUREKA_EMBED_AUTO_MIGRATE": "yes",
    "EUREKA_EMBED_PEERS": "http://b:8761/eureka/, http://c:8761/eureka/",
    "EUREKA_EMBED_CONNECTION_LIMIT": "5000",
    "EUREKA_EMBED_REQUEST_TIMEOUT": "10",
    "EUREKA_EMBED_SERVER": "uvicorn",
    "EUREKA_EMBED_THREADS": "16",
}


def test_environment_sets_every_option() -> None:
    options = parse_serve_options([], environ=ENVIRONMENT)

    peers = ("http://b:8761/eureka/", "http://c:8761/eureka/")
    assert options == ServeOptions(
        "::1",
        9100,
        "memory://",
        5.0,
        False,
        0.7,
        "warning",
        True,
        peers,
        5000,
        10.0,
        server="uvicorn",
        threads=16,
    )


def test_flags_beat_the_environment() -> None:
    options = parse_serve_options(
        [
            "--host",
            "127.0.0.2",
            "--port",
            "9200",
            "--self-preservation",
            "--log-level",
            "error",
            "--connection-limit",
            "7",
        ],
        environ=ENVIRONMENT,
    )

    assert (options.host, options.port, options.self_preservation, options.log_level) == (
        "127.0.0.2",
        9200,
        True,
        "error",
    )
    assert options.connection_limit == 7
    # What no flag set still comes from the environment.
    assert (options.eviction_interval_s, options.renewal_percent_threshold) == (5.0, 0.7)
    assert options.request_timeout_s == 10.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("1", True), ("YES", True), ("on", True), ("False", False), ("0", False)],
)
def test_self_preservation_environment_spellings(text: str, expected: bool) -> None:
    options = parse_serve_options([], environ={"EUREKA_EMBED_SELF_PRESERVATION": text})

    assert options.self_preservation is expected


def test_an_empty_variable_means_unset() -> None:
    assert parse_serve_options([], environ={"EUREKA_EMBED_PORT": ""}).port == 8761


def test_port_zero_asks_for_a_free_port() -> None:
    assert parse_serve_options(["--port", "0"], environ={}).port == 0


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--port", "70000"], {}, "--port must be in 0..65535"),
        (["--port", "-1"], {}, "--port must be in 0..65535"),
        (["--port", "http"], {}, "--port must be a whole number, got 'http'"),
        (["--renewal-percent-threshold", "0"], {}, "--renewal-percent-threshold must be in (0, 1]"),
        (["--renewal-percent-threshold", "1.5"], {}, "must be in (0, 1], got '1.5'"),
        (["--renewal-percent-threshold", "nan"], {}, "must be in (0, 1], got 'nan'"),
        (["--eviction-interval", "0"], {}, "--eviction-interval must be a positive number"),
        (["--eviction-interval", "inf"], {}, "--eviction-interval must be a positive number"),
        (["--log-level", "loud"], {}, "--log-level must be one of debug, info, warning"),
        (["--host", " "], {}, "--host must not be empty"),
        (["--connection-limit", "0"], {}, "--connection-limit must be at least 1, got 0"),
        (["--connection-limit", "many"], {}, "--connection-limit must be a whole number"),
        (["--request-timeout", "-1"], {}, "--request-timeout must be a positive number"),
        (
            [],
            {"EUREKA_EMBED_CONNECTION_LIMIT": "1.5"},
            "EUREKA_EMBED_CONNECTION_LIMIT must be a whole number, got '1.5'",
        ),
        ([], {"EUREKA_EMBED_REQUEST_TIMEOUT": "soon"}, "EUREKA_EMBED_REQUEST_TIMEOUT must be"),
        ([], {"EUREKA_EMBED_PORT": "99999"}, "environment variable EUREKA_EMBED_PORT must be in"),
        (
            [],
            {"EUREKA_EMBED_SELF_PRESERVATION": "maybe"},
            "EUREKA_EMBED_SELF_PRESERVATION must be true or false, got 'maybe'",
        ),
        ([], {"EUREKA_EMBED_LOG_LEVEL": "chatty"}, "EUREKA_EMBED_LOG_LEVEL must be one of"),
        (
            [],
            {"EUREKA_EMBED_RENEWAL_PERCENT_THRESHOLD": "-0.1"},
            "EUREKA_EMBED_RENEWAL_PERCENT_THRESHOLD must be in (0, 1]",
        ),
        (["--bogus"], {}, "unrecognized arguments: --bogus"),
    ],
)
def test_bad_values_are_one_line_and_exit_2(
    argv: list[str],
    env: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    assert main(["serve", *argv]) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("eureka-embed: error: ")
    assert message in err


def test_a_bad_flag_wins_over_a_good_variable_and_still_fails() -> None:
    with pytest.raises(UsageError, match="--port"):
        parse_serve_options(["--port", "x"], environ={"EUREKA_EMBED_PORT": "8761"})


def test_a_good_flag_hides_a_bad_variable() -> None:
    options = parse_serve_options(["--port", "9000"], environ={"EUREKA_EMBED_PORT": "x"})

    assert options.port == 9000


def test_unsupported_store_exits_2_naming_what_is_supported(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--store", "redis://cache"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("eureka-embed: error: unsupported store URL 'redis://cache'")
    assert "sqlite:///FILE" in err
    assert err.count("\n") == 1


def test_unknown_host_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "no-such-host.invalid", "--port", "0"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("eureka-embed: error: cannot listen on no-such-host.invalid:0: ")
    assert err.count("\n") == 1


def test_port_in_use_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        assert main(["serve", "--port", str(port)]) == 1

    err = capsys.readouterr().err
    assert err.startswith(f"eureka-embed: error: cannot listen on 127.0.0.1:{port}: ")
    assert "in use" in err


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "eureka-embed: error:" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert re.fullmatch(r"eureka-embed \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


def test_help_lists_every_environment_variable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--help"]) == 0

    out = capsys.readouterr().out
    for name in [*ENVIRONMENT, "EUREKA_EMBED_SELF_PRESERVATION"]:
        assert name in out


def test_python_dash_m_runs_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "eureka_embed", "serve", "--port", "nope"],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=30,
        check=False,
    )

    assert done.returncode == 2
    assert done.stderr == "eureka-embed: error: --port must be a whole number, got 'nope'\n"
    assert "Traceback" not in done.stderr


def test_a_missing_server_extra_is_named_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(sys.modules, "eureka_embed.server")
    monkeypatch.setitem(sys.modules, "waitress", None)  # what an absent package looks like

    assert main(["serve", "--port", "0"]) == 1

    err = capsys.readouterr().err
    assert err.startswith("eureka-embed: error: the server needs the 'server' extra: ")
    assert "pip install 'eureka_embed[server]'" in err


def test_serve_defaults_are_the_servers_own() -> None:
    from eureka_embed import server

    options = ServeOptions()

    assert options.connection_limit == server.DEFAULT_CONNECTION_LIMIT
    assert options.request_timeout_s == server.DEFAULT_REQUEST_TIMEOUT_S


def test_serve_defaults_match_the_uvicorn_server_too() -> None:
    import inspect

    from eureka_embed import asgi_server, server

    options = ServeOptions()
    uvicorn_defaults = inspect.signature(asgi_server.UvicornServer).parameters

    assert options.threads == server.DEFAULT_THREADS == uvicorn_defaults["threads"].default
    assert options.connection_limit == uvicorn_defaults["connection_limit"].default


def test_an_unknown_server_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--server", "gunicorn"]) == 2

    err = capsys.readouterr().err
    assert "--server" in err and "waitress" in err and "uvicorn" in err


def test_request_timeout_on_uvicorn_is_exit_2_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--server", "uvicorn", "--request-timeout", "5", "--port", "0"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("eureka-embed: error: --request-timeout applies to --server waitress")
    assert "uvicorn has no deadline" in err


def test_max_watchers_on_uvicorn_is_exit_2_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--server", "uvicorn", "--max-watchers", "100", "--port", "0"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("eureka-embed: error: --max-watchers applies to --server waitress")


def test_a_missing_asgi_extra_is_named_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(sys.modules, "eureka_embed.asgi_server", raising=False)
    monkeypatch.setitem(sys.modules, "uvicorn", None)

    assert main(["serve", "--server", "uvicorn", "--store", "memory://", "--port", "0"]) == 1

    err = capsys.readouterr().err
    assert err.startswith("eureka-embed: error: --server uvicorn needs the 'asgi' extra: ")
    assert "pip install 'eureka_embed[asgi]'" in err


@pytest.mark.parametrize(("server", "uvicorn_thresholds"), [("uvicorn", True), ("waitress", False)])
def test_serve_on_uvicorn_collects_garbage_less_often(
    monkeypatch: pytest.MonkeyPatch, server: str, uvicorn_thresholds: bool
) -> None:
    import gc

    from eureka_embed.asgi_server import GC_THRESHOLDS, UvicornServer
    from eureka_embed.server import EurekaServer

    seen: list[tuple[int, int, int]] = []

    def note_thresholds(self: UvicornServer | EurekaServer, **kwargs: object) -> None:
        seen.append(gc.get_threshold())
        self.stop()

    monkeypatch.setattr(UvicornServer, "serve_forever", note_thresholds)
    monkeypatch.setattr(EurekaServer, "serve_forever", note_thresholds)
    before = gc.get_threshold()
    try:
        code = main(["serve", "--server", server, "--port", "0", "--store", "memory://"])
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
    assert code == 0
    assert (seen == [GC_THRESHOLDS]) is uvicorn_thresholds
    assert len(seen) == 1


@pytest.mark.parametrize("server", ["uvicorn", "waitress"])
def test_serve_passes_the_gil_between_threads_every_millisecond(
    monkeypatch: pytest.MonkeyPatch, server: str
) -> None:
    from eureka_embed.asgi_server import UvicornServer
    from eureka_embed.cli import SWITCH_INTERVAL_S
    from eureka_embed.server import EurekaServer

    seen: list[float] = []

    def note_interval(self: UvicornServer | EurekaServer, **kwargs: object) -> None:
        seen.append(sys.getswitchinterval())
        self.stop()

    monkeypatch.setattr(UvicornServer, "serve_forever", note_interval)
    monkeypatch.setattr(EurekaServer, "serve_forever", note_interval)
    sys.setswitchinterval(0.005)  # CPython's own (conftest restores what it was)
    assert SWITCH_INTERVAL_S != 0.005
    try:
        code = main(["serve", "--server", server, "--port", "0", "--store", "memory://"])
    finally:
        gc.unfreeze()
    assert code == 0
    assert seen == [pytest.approx(0.001)]
