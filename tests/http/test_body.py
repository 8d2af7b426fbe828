"""Undoing Content-Encoding within the body limit, decoded bytes counted."""

from __future__ import annotations

import gzip

import pytest

from eureka_embed.http.body import check_declared_length, decode_body
from eureka_embed.http.outcomes import HttpRefusal

TEXT = b'{"instance": {"app": "ORDERS"}}' * 20


def _status(call: object) -> int:
    assert callable(call)
    with pytest.raises(HttpRefusal) as refused:
        call()
    return refused.value.outcome.status


@pytest.mark.parametrize(
    ("sent", "encoding"),
    [
        (TEXT, None),
        (TEXT, ""),
        (TEXT, "identity"),
        (gzip.compress(TEXT), "gzip"),
        (gzip.compress(TEXT), " X-GZIP "),
        (gzip.compress(gzip.compress(TEXT)), "gzip, gzip"),
        (gzip.compress(TEXT), "identity, gzip"),
    ],
)
def test_accepted_encodings_give_the_body_back(sent: bytes, encoding: str | None) -> None:
    assert decode_body(sent, encoding, len(TEXT)) == TEXT


def test_the_limit_counts_decoded_bytes_in_every_layer() -> None:
    twice = gzip.compress(gzip.compress(TEXT))
    assert _status(lambda: decode_body(twice, "gzip, gzip", len(TEXT) - 1)) == 413
    assert _status(lambda: decode_body(TEXT, None, len(TEXT) - 1)) == 413


def test_an_empty_gzip_member_within_a_zero_limit_is_an_empty_body() -> None:
    assert decode_body(gzip.compress(b""), "gzip", 0) == b""


def test_a_refused_coding_is_refused_before_any_decoding() -> None:
    # zstd was applied first: nothing can be read, so it is a 415, not a corrupt gzip.
    assert _status(lambda: decode_body(gzip.compress(TEXT), "zstd, gzip", 10_000)) == 415


def test_a_declared_length_is_checked_against_the_limit() -> None:
    check_declared_length(None, 10)
    check_declared_length(10, 10)
    assert _status(lambda: check_declared_length(11, 10)) == 413
