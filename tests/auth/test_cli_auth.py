"""``eureka-embed hash-password`` and the security flags of ``serve`` (no server runs)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from eureka_embed.auth import PasswordHash
from eureka_embed.cli import main, parse_serve_options
from eureka_embed.node import is_loopback_host, warn_if_open
from tests.auth.support import credentials_toml


class _Stdin(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_hash_password_reads_one_line_and_prints_a_hash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", _Stdin("correct horse\n"))
    assert main(["hash-password"]) == 0
    out, err = capsys.readouterr()
    assert PasswordHash.parse(out.strip()).verify("correct horse")
    assert "correct horse" not in out + err


def test_hash_password_on_a_terminal_asks_twice(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter(["one", "two"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert main(["hash-password"]) == 2
    assert capsys.readouterr().err == "eureka-embed: error: the passwords differ\n"


def test_an_empty_password_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", _Stdin("\n"))
    assert main(["hash-password"]) == 2
    assert "empty" in capsys.readouterr().err


def test_auth_tls_and_peer_tls_flags_and_variables(tmp_path: Path) -> None:
    files = {name: tmp_path / f"{name}.pem" for name in ("a", "c", "k", "ca", "pc", "pk", "pca")}
    for path in files.values():
        path.write_text("x")
    options = parse_serve_options(
        [
            f"--auth={files['a']}",
            f"--tls-cert={files['c']}",
            f"--tls-key={files['k']}",
            f"--tls-client-ca={files['ca']}",
            f"--peer-cert={files['pc']}",
            f"--peer-key={files['pk']}",
        ],
        environ={"EUREKA_EMBED_PEER_CA_FILE": str(files["pca"])},
    )
    assert (options.auth, options.tls_cert, options.tls_key, options.tls_client_ca) == tuple(
        str(files[n]) for n in ("a", "c", "k", "ca")
    )
    settings = options.replication_settings()
    assert settings is not None
    assert (settings.ca_file, settings.client_cert, settings.client_key) == tuple(
        str(files[n]) for n in ("pca", "pc", "pk")
    )
    assert parse_serve_options([], environ={}).replication_settings() is None


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["serve", "--store=memory://", "--port=0", *argv])
    return code, capsys.readouterr().err


def test_a_missing_credentials_file_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run([f"--auth={tmp_path}/none.toml"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "names no file" in err


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[users.a]\npassword = "hunter2"\nroles = ["read"]\n', "is not a password hash"),
        ("[users.a]\npassword = 1\n", "needs password"),
        ('anonymous = ["god"]\n', "unknown role 'god'"),
        ("anonymous = [\n", "is not valid TOML"),
    ],
)
def test_a_bad_credentials_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, says: str
) -> None:
    path = tmp_path / "auth.toml"
    path.write_text(text)
    code, err = _run([f"--auth={path}"], capsys)
    assert code == 2
    assert err.startswith("eureka-embed: error: credentials file") and err.count("\n") == 1
    assert says in err and "hunter2" not in err


@pytest.mark.parametrize("flag", ["--tls-cert", "--tls-key", "--tls-client-ca"])
def test_tls_on_waitress_is_exit_2_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    pem = tmp_path / "x.pem"
    pem.write_text("x")
    code, err = _run([f"{flag}={pem}"], capsys)
    assert code == 2
    assert f"{flag} need --server uvicorn: waitress serves plain HTTP only" in err


def test_a_certificate_without_its_key_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pem = tmp_path / "x.pem"
    pem.write_text("x")
    code, err = _run(["--server=uvicorn", f"--tls-cert={pem}"], capsys)
    assert (code, "--tls-cert and --tls-key go together" in err) == (2, True)


def test_unreadable_tls_files_are_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pem = tmp_path / "x.pem"
    pem.write_text("not a certificate")
    code, err = _run(["--server=uvicorn", f"--tls-cert={pem}", f"--tls-key={pem}"], capsys)
    assert code == 2 and "cannot load the TLS certificate" in err
    code, err = _run(["--peer=https://b:8761/eureka/", f"--peer-ca-file={pem}"], capsys)
    assert code == 2 and "cannot load the TLS files" in err


def test_the_credentials_file_is_read_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A good file gets as far as listening: an unknown host then fails, after the file.
    path = tmp_path / "auth.toml"
    path.write_text(credentials_toml())
    code, err = _run([f"--auth={path}", "--host=host.invalid"], capsys)
    assert code == 2 and "unknown host" in err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
     ("0.0.0.0", False), ("", False), ("::", False), ("10.0.0.5", False), ("eureka-a", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_an_open_node_on_the_network_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "eureka_embed.server"):
        warn_if_open("127.0.0.1", None)
        warn_if_open("0.0.0.0", object())
        assert caplog.records == []
        warn_if_open("0.0.0.0", None)
    [record] = caplog.records
    assert "without authentication" in record.getMessage() and "--auth" in record.getMessage()
