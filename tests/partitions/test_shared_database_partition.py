"""Two nodes sharing one PostgreSQL that runs in a namespace of its own; one node is cut from
the database for 20 s while both take writes, the cut heals: both agree within 5 s."""

from __future__ import annotations

import time

import pytest

from tests.partitions.netns import network
from tests.partitions.private_postgres import private_postgres
from tests.partitions.workload import Ledger, Side, register_all, until_agreed, view

CUT_S = 20
CONVERGE_S = 5.0
#: Short database time-outs, so the cut-off node answers 503 soon instead of holding clients.
DB_OPTIONS = "?connect_timeout=2&statement_timeout=2"


@pytest.mark.slow
def test_a_node_cut_from_the_shared_database_agrees_within_5_s_of_the_heal() -> None:
    with network() as net:
        db_host, first_host, second_host = (net.add_host(name) for name in ("db", "n1", "n2"))
        with private_postgres(net, db_host) as url:
            store = ["--store", url + DB_OPTIONS]
            first = net.serve(first_host, [*store, "--auto-migrate"])
            first.wait_ready()  # it made the schema: the second finds it there
            second = net.serve(second_host, store)
            second.wait_ready()
            urls = [first.base_url, second.base_url]
            before = [f"p{n}" for n in range(20)]
            register_all(first.base_url, before)
            ledger = Ledger(acked=set(before))
            assert until_agreed(urls, ledger, 10)[0] is not None

            sides = [
                Side(first.base_url, "a", ledger, live=before[:10]),
                Side(second.base_url, "b", ledger, live=before[10:]),
            ]
            net.cut(second_host)
            cut_until = time.monotonic() + CUT_S
            tick = 0
            while time.monotonic() < cut_until:
                for side in sides:
                    side.register_new()
                    side.heartbeat_some(3)
                    if tick % 4 == 0:
                        side.cancel_oldest()
                tick += 1
                time.sleep(0.5)
            # The cut-off node refused writes with 503 (it cannot store them) and kept
            # answering reads; the other node took every write.
            assert view(second.base_url) is not None
            cut_off = ledger.answers[second.base_url]
            assert cut_off[503] > 0, cut_off
            assert set(cut_off) <= {200, 204, 503}, cut_off
            assert set(ledger.answers[first.base_url]) <= {200, 204}, ledger.answers

            net.heal(second_host)
            took, views = until_agreed(urls, ledger, CONVERGE_S)
            missing = [sorted(ledger.must_hold() - v.ids) if v else None for v in views]
            extra = [sorted(v.ids - ledger.may_hold()) if v else None for v in views]
            assert took is not None, (
                f"not agreed {CONVERGE_S} s after the heal: {missing=} {extra=}"
            )
            print(
                f"\nshared database, cut {CUT_S} s: agreed {took:.2f} s after the heal; "
                f"writes to the cut-off node answered {dict(cut_off)}"
            )
