"""A status override stored by one SQL store is read back by every other one.

Another node catching up, a node (re)started on the database, and a write that reads the
record from the database all see the override, so the instance keeps the status an operator
set (OUT_OF_SERVICE) whichever node answers.
"""

from __future__ import annotations

from pathlib import Path

from eureka_embed.clock import ManualClock
from eureka_embed.model import InstanceStatus
from eureka_embed.registry import Registry
from eureka_embed.storage.sql import SqlStore
from tests.databases import sqlite_file_url
from tests.registry.helpers import instance

ONE = instance(1, "ORDERS")


def _store(url: str) -> SqlStore:
    return SqlStore(url, migrate_schema=True, background=False)


def test_another_node_and_a_restarted_node_read_the_override(tmp_path: Path) -> None:
    url = sqlite_file_url(tmp_path)
    clock = ManualClock()
    a, b = _store(url), _store(url)
    with a, b:
        Registry(a, clock=clock).register(ONE)
        b.sync()
        Registry(a, clock=clock).update_status(
            "ORDERS", ONE.instance_id, InstanceStatus.OUT_OF_SERVICE
        )

        b.sync()  # catches up with a's change
        caught_up = b.get("ORDERS", ONE.instance_id)
        assert caught_up is not None
        assert caught_up.override is InstanceStatus.OUT_OF_SERVICE
        with _store(url) as restarted:  # loads every record afresh
            loaded = restarted.get("ORDERS", ONE.instance_id)
            assert loaded is not None
            assert loaded.override is InstanceStatus.OUT_OF_SERVICE


def test_a_registration_through_another_node_keeps_the_override(tmp_path: Path) -> None:
    url = sqlite_file_url(tmp_path)
    clock = ManualClock()
    a, b = _store(url), _store(url)
    with a, b:
        Registry(a, clock=clock).register(ONE)
        Registry(a, clock=clock).update_status(
            "ORDERS", ONE.instance_id, InstanceStatus.OUT_OF_SERVICE
        )

        # b has not caught up: its write reads the record from the database.
        Registry(b, clock=clock).register(ONE)

        record = b.get("ORDERS", ONE.instance_id)
        assert record is not None
        assert record.override is InstanceStatus.OUT_OF_SERVICE
        assert record.instance.status is InstanceStatus.OUT_OF_SERVICE
