"""An application's cached segment reads as the application encoded from scratch, through a
change that keeps some of its instances."""

from __future__ import annotations

import pytest

from eureka_embed.codec import WireFormat, encode_application
from eureka_embed.codec.segments import AppSegment, SegmentCache, application_pieces
from eureka_embed.model import Application, InstanceStatus
from tests.registry.helpers import instance


def _answer(segment: AppSegment) -> bytes:
    opening, closing = application_pieces(segment.fmt)
    return opening + b"".join(segment.pieces) + closing


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("fmt", list(WireFormat))
def test_a_segment_rebuilt_after_a_change_reads_as_a_fresh_encoding(
    fmt: WireFormat, compact: bool
) -> None:
    cache = SegmentCache(fmt, compact)
    kept = [instance(n, "APP") for n in range(3)]
    first = Application("APP", tuple(kept))
    segment = cache.segment(first)
    assert _answer(segment) == encode_application(first, fmt, compact=compact)
    assert segment.inherited is None  # it replaced nothing
    segment.derived["by a reader"] = b"derived bytes"
    changed = Application("APP", (kept[0], instance(1, "APP", status=InstanceStatus.DOWN), kept[2]))
    rebuilt = cache.segment(changed)
    assert _answer(rebuilt) == encode_application(changed, fmt, compact=compact)
    # The unchanged instances keep their bytes; what was derived passes to the new segment.
    assert rebuilt.fragments[0] is segment.fragments[0]
    assert rebuilt.fragments[2] is segment.fragments[2]
    assert rebuilt.inherited is segment.derived
