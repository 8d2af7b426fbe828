"""An application's segment cut into runs whose ends the instances' own bytes choose.

The HTTP layer compresses each run once, with the instance before it as its dictionary
(eureka_embed.http.payloads), so the runs must add up to the segment exactly, each must name
the bytes that really come before it, and a change must leave every other run as it was.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eureka_embed.codec import WireFormat, segments
from eureka_embed.codec.segments import AppSegment

fragments_lists = st.lists(st.binary(min_size=1, max_size=40), max_size=120)
formats = st.sampled_from(list(WireFormat))
separators = st.sampled_from([b"", b","])


def _segment(fragments: list[bytes], fmt: WireFormat) -> AppSegment:
    # The runs read only the encoded bytes: no instances needed.
    return AppSegment("APP", (), fragments, fmt)


def _check_runs(segment: AppSegment, separator: bytes) -> list[tuple[bytes, ...]]:
    runs = segment.chunks(separator)
    assert b"".join(b"".join(run[1:]) for run in runs) == separator + b"".join(segment.pieces)
    written = b""
    for index, run in enumerate(runs):
        before = run[0]
        # The dictionary is what a decoder has just put out: the previous run's last instance.
        assert written.endswith(before)
        assert (before == b"") == (index == 0)
        if index:
            assert before == runs[index - 1][-1]
        written += b"".join(run[1:])
    return runs


@given(fragments_lists, formats, separators)
def test_runs_add_up_to_the_segment_and_name_what_precedes_them(
    fragments: list[bytes], fmt: WireFormat, separator: bytes
) -> None:
    _check_runs(_segment(fragments, fmt), separator)


@given(fragments_lists, st.integers(0, 120), st.binary(min_size=1, max_size=40), formats)
def test_an_instance_added_changes_at_most_two_runs(
    fragments: list[bytes], at: int, added: bytes, fmt: WireFormat
) -> None:
    before = set(_check_runs(_segment(fragments, fmt), b","))
    changed = [*fragments[:at], added, *fragments[at:]]
    after = _check_runs(_segment(changed, fmt), b",")
    # Its own run and, when it follows an end (or ends its run), the next one; the close of
    # the segment belongs to the last run, so an instance added last changes that one only.
    assert len([run for run in after if run not in before]) <= 2


@given(fragments_lists, st.data(), formats)
def test_an_instance_removed_changes_at_most_two_runs(
    fragments: list[bytes], data: st.DataObject, fmt: WireFormat
) -> None:
    if not fragments:
        return
    at = data.draw(st.integers(0, len(fragments) - 1))
    before = set(_check_runs(_segment(fragments, fmt), b","))
    after = _check_runs(_segment([*fragments[:at], *fragments[at + 1 :]], fmt), b",")
    assert len([run for run in after if run not in before]) <= 2


def test_a_long_stretch_without_an_end_is_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segments, "CHUNK_INSTANCES", 1 << 62)  # no fragment hashes to an end
    monkeypatch.setattr(segments, "MAX_CHUNK_INSTANCES", 3)
    fragments = [b"i%d" % n for n in range(10)]
    for fmt in WireFormat:
        runs = _check_runs(_segment(fragments, fmt), b",")
        counts = [sum(1 for piece in run[1:] if piece in fragments) for run in runs]
        assert counts == [3, 3, 3, 1]


def test_an_empty_segment_is_one_run() -> None:
    for fmt in WireFormat:
        segment = _segment([], fmt)
        assert _check_runs(segment, b",") == [(b"", b",", *segment.pieces)]


@given(fragments_lists, formats, st.integers(1, 5), st.booleans())
def test_runs_cut_at_any_length_add_up_to_the_segment(
    fragments: list[bytes], fmt: WireFormat, longest: int, ends_by_hash: bool
) -> None:
    # The cap meets the segment's end exactly, one short, one past: every case keeps the close.
    settings = vars(segments)  # the module's constants, set for this example only
    saved = settings["CHUNK_INSTANCES"], settings["MAX_CHUNK_INSTANCES"]
    settings["CHUNK_INSTANCES"] = 4 if ends_by_hash else 1 << 62
    settings["MAX_CHUNK_INSTANCES"] = longest
    try:
        _check_runs(_segment(fragments, fmt), b",")
    finally:
        settings["CHUNK_INSTANCES"], settings["MAX_CHUNK_INSTANCES"] = saved
