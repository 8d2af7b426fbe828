"""``eureka-embed apps|out-of-service|in-service|deregister`` against a real server."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from eureka_embed import cli
from eureka_embed.model import InstanceStatus
from eureka_embed.registry import Registry
from eureka_embed.server import EurekaServer
from tests.auth.support import USERS, credentials_toml
from tests.registry.helpers import instance


@pytest.fixture(autouse=True)
def _restore_log_level() -> Iterator[None]:
    logger = logging.getLogger("eureka_embed")
    level = logger.level
    yield
    logger.setLevel(level)


@pytest.fixture
def registry() -> Registry:
    made = Registry()
    made.register(instance(1, metadata={"zone": "zone-a"}))
    made.register(instance(2, app="BILLING"))
    return made


@pytest.fixture
def server(registry: Registry) -> Iterator[EurekaServer]:
    with EurekaServer(registry, maintenance=False) as running:
        yield running


@pytest.fixture
def secured(registry: Registry, tmp_path: Path) -> Iterator[EurekaServer]:
    from eureka_embed.auth import BasicAuth

    path = tmp_path / "users.toml"
    path.write_text(credentials_toml())
    with EurekaServer(registry, maintenance=False, auth=BasicAuth.from_file(str(path))) as running:
        yield running


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_apps_prints_one_row_per_instance(
    server: EurekaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "apps", "--eureka", server.base_url)
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["APP", "INSTANCE", "STATUS", "ADDRESS", "ZONE", "LAST", "RENEWAL"]
    assert lines[1].split()[:5] == ["BILLING", "host2:billing:8080", "UP", "10.0.0.1:7001", "-"]
    assert lines[2].split()[:5] == ["ORDERS", "host1:orders:8080", "UP", "10.0.0.1:7001", "zone-a"]
    assert lines[2].endswith("s ago")


def test_out_of_service_then_in_service_then_deregister(
    server: EurekaServer, registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ("--eureka", server.base_url, "ORDERS", "host1:orders:8080")
    assert run(capsys, "out-of-service", *target)[0] == 0
    found = registry.get_instance("ORDERS", "host1:orders:8080")
    assert found is not None and found.status is InstanceStatus.OUT_OF_SERVICE
    assert "(override OUT_OF_SERVICE)" in run(capsys, "apps", "--eureka", server.base_url)[1]
    assert run(capsys, "in-service", *target)[0] == 0
    found = registry.get_instance("ORDERS", "host1:orders:8080")
    assert found is not None and found.status is InstanceStatus.UP
    assert run(capsys, "deregister", *target)[0] == 0
    assert registry.get_instance("ORDERS", "host1:orders:8080") is None


def test_an_unknown_instance_exits_1_with_the_servers_reason(
    server: EurekaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "out-of-service", "--eureka", server.base_url, "ORDERS", "nobody")
    assert status == 1
    assert "answered 404" in err
    assert "nobody" in err


def test_credentials_come_from_the_environment_and_a_refusal_says_why(
    secured: EurekaServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EUREKA_EMBED_EUREKA_URL", secured.base_url)
    monkeypatch.setenv("EUREKA_EMBED_USER", "reader")
    monkeypatch.setenv("EUREKA_EMBED_PASSWORD", USERS["reader"][0])
    assert run(capsys, "apps")[0] == 0
    status, _, err = run(capsys, "deregister", "ORDERS", "host1:orders:8080")
    assert status == 1
    assert "answered 403" in err
    assert USERS["reader"][0] not in err

    monkeypatch.setenv("EUREKA_EMBED_USER", "ops")
    monkeypatch.setenv("EUREKA_EMBED_PASSWORD", USERS["ops"][0])
    assert run(capsys, "deregister", "ORDERS", "host1:orders:8080")[0] == 0


def test_credentials_in_the_url_win_and_are_never_printed(
    secured: EurekaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = secured.base_url.replace("http://", "http://reader:wrong-secret@")
    status, _, err = run(capsys, "apps", "--eureka", url)
    assert status == 1
    assert "answered 401" in err
    assert "wrong-secret" not in err


def test_a_server_that_does_not_answer_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "apps", "--eureka", "http://127.0.0.1:9/eureka/")
    assert status == 1
    assert "127.0.0.1:9" in err


def test_a_bad_url_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "apps", "--eureka", "ftp://x")
    assert status == 2
    assert "http(s)" in err
