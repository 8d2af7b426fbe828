"""RecordIndex.of, the one-pass build a reload uses, is the index the same records put one by
one would make: the same records, count, hashcode and expiry, a repeated key included (the
later record replaces the earlier, which then expires with nothing)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from eureka_embed.model import InstanceStatus
from eureka_embed.storage import LeaseRecord
from eureka_embed.storage.record_index import RecordIndex
from tests.registry.helpers import instance

#: Few apps and ids, so that keys repeat; renewals across a few seconds of expiry buckets.
records = st.lists(
    st.builds(
        lambda n, app, status, renewed, duration: LeaseRecord(
            instance(n, app, status=status), duration, renewed
        ),
        st.integers(0, 3),
        st.sampled_from(["A", "B"]),
        st.sampled_from(InstanceStatus),
        st.integers(0, 5_000),
        st.integers(0, 3_000),
    ),
    max_size=12,
)


def _shown(index: RecordIndex) -> tuple[object, ...]:
    found = sorted((r.app, r.instance_id, id(r)) for r in index.records())
    expiring = [sorted(id(r) for r in index.expired(cut)) for cut in range(0, 9_000, 500)]
    return found, index.count, index.hashcode(), expiring


@given(records)
def test_an_index_built_at_once_is_the_one_made_by_putting_each_record(
    given_records: list[LeaseRecord],
) -> None:
    one_by_one = RecordIndex()
    for record in given_records:
        one_by_one.put(record)
    expected = _shown(one_by_one)
    assert _shown(RecordIndex.of(given_records)) == expected
