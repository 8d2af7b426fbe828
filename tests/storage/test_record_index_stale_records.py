"""``RecordIndex.expired`` with a record its index no longer holds.

A SQL store looks a lease up before it takes its lock to renew it; a write (or a reload) in
between replaces the record, and the renewal then files the old record object into the
index's buckets. Eviction must skip that record and still find every lease that ran out.
"""

from __future__ import annotations

from eureka_embed.storage.base import LeaseRecord
from eureka_embed.storage.record_index import RecordIndex
from tests.registry.helpers import instance


def _record(n: int, last_renewal_ms: int) -> LeaseRecord:
    return LeaseRecord(instance(n, "ORDERS"), duration_ms=1_000, last_renewal_ms=last_renewal_ms)


def test_a_stale_record_in_a_due_bucket_is_skipped_and_the_leases_after_it_are_found() -> None:
    index = RecordIndex()
    old = _record(1, 0)
    index.put(old)
    replacement = _record(1, 50_000)
    index.put(replacement)  # a write replaced the record ...
    index.renew(old, 2_000)  # ... after a heartbeat had looked the old one up
    ran_out = _record(2, 3_000)  # filed after the stale record, in a later bucket
    index.put(ran_out)

    assert index.expired(10_000) == [ran_out]
    assert index.expired(10_000) == [ran_out]
    assert index.get("ORDERS", old.instance_id) is replacement


def test_a_stale_record_of_an_application_gone_is_skipped_and_dropped_from_its_bucket() -> None:
    index = RecordIndex()
    old = _record(1, 0)
    index.put(old)
    index.remove("ORDERS", old.instance_id)  # the application's last instance: it goes
    index.renew(old, 2_000)  # a heartbeat that had looked it up files it again

    assert index.due(10_000) == [old]
    assert index.expired(10_000) == []
    assert index.due(10_000) == []  # not read again by every later pass
