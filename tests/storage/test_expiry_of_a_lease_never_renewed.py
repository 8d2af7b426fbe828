"""``Store.expired`` for a lease registered at an odd millisecond and never renewed: it is
filed by registration, not by a heartbeat, and must be expired 1 ms after it ran out, not up to
a second later (found by mutation testing: a fractional bucket key for stored records passed
every test, since the tests' clocks register on whole seconds)."""

from __future__ import annotations

from eureka_embed.clock import ManualClock
from eureka_embed.registry import Registry
from eureka_embed.storage import Store
from tests.registry.helpers import instance
from tests.storage import test_expiry_of_renewals_within_a_second as renewals

#: Memory and SQLite, as for the renewals.
store = renewals.store


def test_a_lease_registered_at_an_odd_millisecond_is_expired_one_millisecond_after_it_ran_out(
    store: Store,
) -> None:
    clock = ManualClock(start_ms=1_700_000_000_567)
    one = instance(1, "ORDERS")
    Registry(store, clock=clock).register(one)
    record = store.get("ORDERS", one.instance_id)
    assert record is not None
    runs_out = record.last_renewal_ms + record.duration_ms
    assert runs_out % 1000 != 0

    assert {r.instance_id for r in store.expired(runs_out).records} == set()
    assert {r.instance_id for r in store.expired(runs_out + 1).records} == {one.instance_id}
