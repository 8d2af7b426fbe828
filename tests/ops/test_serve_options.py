"""The ``serve`` options of issue 15: the fetch rate limit and the log format."""

from __future__ import annotations

import json
import logging

import pytest

from eureka_embed.cli import UsageError, _configure_logging, parse_serve_options
from eureka_embed.http.fetch_limit import FetchRateLimit


def test_the_rate_limit_is_off_by_default() -> None:
    assert parse_serve_options([]).fetch_limit() is None


def test_the_rate_limit_options_make_eurekas_limit() -> None:
    options = parse_serve_options(
        ["--rate-limit", "--rate-limit-burst", "3", "--rate-limit-privileged", "ops,batch"],
        {"EUREKA_EMBED_RATE_LIMIT_FULL_FETCH_RATE": "2.5"},
    )
    assert options.fetch_limit() == FetchRateLimit(
        burst=3, fetch_rate=500.0, full_fetch_rate=2.5, privileged_clients=("ops", "batch")
    )


@pytest.mark.parametrize("rate", ["0", "-1", "fast", "inf"])
def test_a_rate_that_is_not_a_positive_number_is_refused(rate: str) -> None:
    with pytest.raises(UsageError, match="number per second"):
        parse_serve_options([], {"EUREKA_EMBED_RATE_LIMIT_FETCH_RATE": rate})


def test_json_logs_are_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []
    try:
        _configure_logging("info", "json")
        logging.getLogger("eureka_embed.test").warning('two\nlines and a "quote"')
    finally:
        root.handlers, level = saved
        root.setLevel(level)
    (line,) = capsys.readouterr().err.splitlines()
    record = json.loads(line)
    assert record["message"] == 'two\nlines and a "quote"'
    assert (record["level"], record["logger"]) == ("WARNING", "eureka_embed.test")
    assert record["time"].endswith("+0000")
