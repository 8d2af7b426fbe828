"""``eureka-embed serve --peer``: repeated or comma-separated, or EUREKA_EMBED_PEERS."""

from __future__ import annotations

import pytest

from eureka_embed.cli import UsageError, main, parse_serve_options

B = "http://eureka-b:8761/eureka/"
C = "http://eureka-c:8761/eureka/"


def test_no_peers_by_default() -> None:
    assert parse_serve_options([], environ={}).peers == ()


def test_peers_may_be_repeated_and_comma_separated() -> None:
    options = parse_serve_options(["--peer", f"{B}, {C}", "--peer=http://eureka-d/eureka/"], {})

    assert options.peers == (B, C, "http://eureka-d/eureka/")


def test_peers_come_from_the_environment_unless_flags_give_them() -> None:
    environ = {"EUREKA_EMBED_PEERS": f"{B},{C}"}

    assert parse_serve_options([], environ).peers == (B, C)
    assert parse_serve_options(["--peer", C], environ).peers == (C,)


@pytest.mark.parametrize("bad", ["eureka-b:8761", "ftp://eureka-b/eureka/", ",", " "])
def test_a_bad_peer_url_is_a_usage_error_with_the_reason(bad: str) -> None:
    with pytest.raises(UsageError, match="--peer"):
        parse_serve_options(["--peer", bad], {})


def test_a_bad_peer_url_in_the_environment_names_the_variable() -> None:
    with pytest.raises(UsageError, match=r"EUREKA_EMBED_PEERS .*needs http"):
        parse_serve_options([], {"EUREKA_EMBED_PEERS": "eureka-b:8761"})


def test_the_command_line_refuses_a_bad_peer_with_status_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--peer", "nonsense"]) == 2

    assert "--peer" in capsys.readouterr().err


def test_help_describes_the_peer_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--help"]) == 0

    out = capsys.readouterr().out
    assert "--peer URL" in out
    assert "EUREKA_EMBED_PEERS" in out


def test_peer_dns_names_are_repeated_or_comma_separated_or_from_the_environment() -> None:
    options = parse_serve_options(
        ["--peer-dns", "eureka:8761, https://eureka-tls:8443", "--peer-dns=other:80"], {}
    )

    assert [str(name) for name in options.peer_dns] == [
        "http://eureka:8761/eureka/",
        "https://eureka-tls:8443/eureka/",
        "http://other:80/eureka/",
    ]
    assert options.peer_dns_interval_s == 30.0
    from_env = parse_serve_options(
        [], {"EUREKA_EMBED_PEER_DNS": "eureka:8761", "EUREKA_EMBED_PEER_DNS_INTERVAL": "5"}
    )
    assert [str(name) for name in from_env.peer_dns] == ["http://eureka:8761/eureka/"]
    assert from_env.peer_dns_interval_s == 5.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--peer-dns", "eureka"], "--peer-dns expected NAME:PORT"),
        (["--peer-dns", ","], "--peer-dns must name at least one NAME:PORT"),
        (["--peer-dns-interval", "0"], "--peer-dns-interval must be a positive number"),
    ],
)
def test_a_bad_peer_dns_value_is_a_usage_error_with_the_reason(
    argv: list[str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        parse_serve_options(argv, {})
