"""``serve --remote-region NAME=URL`` and ``--remote-region-fetch-interval``, as flags and as
environment variables, and their refusals (one line, exit status 2)."""

from __future__ import annotations

import pytest

from eureka_embed.cli import main, parse_serve_options
from eureka_embed.remote_regions import RemoteRegion

EU = RemoteRegion("eu-west-1", "http://eureka-eu:8761/eureka/")
US = RemoteRegion("us-east-1", "http://eureka-us:8761/eureka/")
AP = RemoteRegion("ap-south-1", "http://eureka-ap:8761/eureka/")


def test_none_by_default_every_30_seconds() -> None:
    options = parse_serve_options([], environ={})

    assert options.remote_regions == ()
    assert options.remote_region_fetch_interval_s == 30.0


def test_flags_repeat_and_take_lists() -> None:
    options = parse_serve_options(
        [
            f"--remote-region={EU.name}={EU.url}",
            "--remote-region",
            f"{US.name}={US.url},{AP.name}={AP.url}",
            "--remote-region-fetch-interval=0.5",
        ],
        environ={},
    )

    assert options.remote_regions == (EU, US, AP)
    assert options.remote_region_fetch_interval_s == 0.5


def test_the_environment_gives_them_too() -> None:
    options = parse_serve_options(
        [],
        environ={
            "EUREKA_EMBED_REMOTE_REGIONS": f"{EU.name}={EU.url}, {US.name}={US.url}",
            "EUREKA_EMBED_REMOTE_REGION_FETCH_INTERVAL": "10",
        },
    )

    assert options.remote_regions == (EU, US)
    assert options.remote_region_fetch_interval_s == 10.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--remote-region", "eu-west-1"], "--remote-region must be NAME=URL"),
        (["--remote-region", "eu=not a url"], "--remote-region"),
        (["--remote-region-fetch-interval", "0"], "must be a positive number of seconds"),
        (
            [
                "--store=memory://",
                "--port=0",
                f"--remote-region=eu={EU.url}",
                f"--remote-region=EU={US.url}",
            ],
            "--remote-region: each remote region must have a name of its own",
        ),
    ],
)
def test_bad_values_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", *argv]) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert message in err
