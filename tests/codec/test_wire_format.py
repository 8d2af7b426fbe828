"""Content negotiation as Eureka does it."""

from __future__ import annotations

import pytest

from eureka_embed.codec import WireFormat

JSON, XML = WireFormat.JSON, WireFormat.XML


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, XML),
        ("", XML),
        ("*/*", XML),
        ("application/xml", XML),
        ("text/xml, */*", XML),
        ("application/json", JSON),
        ("Application/JSON;charset=UTF-8", JSON),
        ("application/xml;q=0.9, application/json", JSON),
    ],
)
def test_from_accept(accept: str | None, expected: WireFormat) -> None:
    assert WireFormat.from_accept(accept) is expected


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("text/plain", JSON),
        ("application/json", JSON),
        ("application/json; charset=utf-8", JSON),
        ("application/xml", XML),
        ("text/XML; charset=UTF-8", XML),
    ],
)
def test_from_content_type(content_type: str | None, expected: WireFormat) -> None:
    assert WireFormat.from_content_type(content_type) is expected


def test_content_type() -> None:
    assert JSON.content_type == "application/json"
    assert XML.content_type == "application/xml"
