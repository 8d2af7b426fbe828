"""A node started over a database reads back exactly what was stored.

A start reads each stored instance with the codec's quick reader (it takes what the store
writes) and falls back to the general, validating reader for anything else. Either way the
store must come up as the general reader alone would build it: every record, override, lease
and logged change, the sequence and the hashcode; a lease and the change that wrote it still
share one instance. A row edited by hand is read the general way, leniently as before, and one
the codec cannot read at all still stops the start with the reader's reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eureka_embed.codec import instance_to_dict, readers
from eureka_embed.errors import DecodeError
from eureka_embed.model import (
    AMAZON_DATA_CENTER_CLASS,
    DEFAULT_DATA_CENTER_CLASS,
    ActionType,
    InstanceInfo,
    InstanceStatus,
    PortInfo,
)
from eureka_embed.registry import Registry
from eureka_embed.storage import LeaseRecord, Store, Write
from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_schema import SEQUENCE_NAME, changes, leases, renewals, sequence
from tests.codec import strategies
from tests.databases import server_database_url, sqlite_file_url
from tests.registry.helpers import instance

#: Each example: instances with distinct keys, each with or without a status override.
stored = st.lists(
    st.tuples(strategies.instances(), st.none() | strategies.statuses),
    min_size=1,
    max_size=4,
    unique_by=lambda pair: (pair[0].app, pair[0].instance_id),
)
examples = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@contextmanager
def general_reader_only() -> Iterator[None]:
    """Every instance read the general way: the reference a start must agree with."""
    with mock.patch.object(readers, "_read_plain_instance", return_value=None):
        yield


def _open(url: str) -> SqlStore:
    return SqlStore(url, migrate_schema=True, background=False)


def _emptied(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for table in (changes, renewals, leases):
                conn.execute(sa.delete(table))
            conn.execute(
                sa.update(sequence).where(sequence.c.name == SEQUENCE_NAME).values(value=0)
            )
    finally:
        engine.dispose()


def _write(url: str, pairs: list[tuple[InstanceInfo, InstanceStatus | None]]) -> None:
    with _open(url) as store:
        for n, (info, override) in enumerate(pairs):
            record = LeaseRecord(info, 90_000 + n, 1_000 + n, override)
            store.mutate(info.app, info.instance_id, _registering(record, 2_000 + n))


def _registering(record: LeaseRecord, at_ms: int) -> Callable[[LeaseRecord | None], Any]:
    def register(_: LeaseRecord | None) -> tuple[Write, None]:
        return Write(record, ActionType.ADDED, change_ms=at_ms), None

    return register


def _state(store: Store) -> tuple[object, ...]:
    """Everything a started store shows, in a form that compares by value."""
    records = sorted(
        (r.app, r.instance_id, r.instance, r.duration_ms, r.last_renewal_ms, r.override)
        for r in store.snapshot().records
    )
    return records, store.changes_after(0), store.latest_sequence(), store.apps_hashcode()


def _starts_as_the_general_reader_reads(
    url: str, pairs: list[tuple[InstanceInfo, InstanceStatus | None]]
) -> None:
    _emptied(url)
    _write(url, pairs)
    with _open(url) as started:
        state = _state(started)
        for change in started.changes_after(0):
            record = started.get(*change.key)
            assert record is not None and record.instance is change.instance
    with general_reader_only(), _open(url) as reference:
        assert state == _state(reference)
    # What the store writes round-trips: the same instances, overrides and leases come back.
    expected = sorted(
        (info.app, info.instance_id, info, 90_000 + n, 1_000 + n, override)
        for n, (info, override) in enumerate(pairs)
    )
    assert state[0] == expected


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = sqlite_file_url(tmp_path_factory.mktemp("start"))
    _open(url).close()  # migrated once: each example only empties the tables
    return url


@given(pairs=stored)
@examples
def test_a_start_on_sqlite_reads_any_stored_instance_as_the_general_reader_does(
    sqlite_url: str, pairs: list[tuple[InstanceInfo, InstanceStatus | None]]
) -> None:
    _starts_as_the_general_reader_reads(sqlite_url, pairs)


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
@given(pairs=stored)
@settings(examples, max_examples=10)
def test_a_start_on_a_server_database_reads_stored_instances_as_the_general_reader_does(
    kind: str, pairs: list[tuple[InstanceInfo, InstanceStatus | None]]
) -> None:
    url = server_database_url(kind)
    _open(url).close()
    _starts_as_the_general_reader_reads(url, pairs)


# -- rows edited by hand --------------------------------------------------------------------------

STORED = instance(1, "ORDERS", ldt=100)


def _hand_edited(tmp_path: Path, **fields: object) -> str:
    """A file holding STORED, its lease row and its logged change edited to carry ``fields``."""
    url = sqlite_file_url(tmp_path)
    _write(url, [(STORED, None)])
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            text = conn.execute(sa.select(leases.c.instance)).scalar_one()
            edited = orjson.dumps({**orjson.loads(text), **fields}).decode()
            conn.execute(sa.update(leases).values(instance=edited))
            conn.execute(sa.update(changes).values(instance=edited))
    finally:
        engine.dispose()
    return url


#: Lenient spellings that no writer of this store produces: the quick reader steps aside.
LENIENT = {
    "status": "down",
    "port": "8081",
    "metadata": {"replicas": 3, "@class": "java.util.HashMap"},
    "leaseInfo": {"durationInSecs": " 60 "},
    "isCoordinatingDiscoveryServer": 1,
}


def test_a_row_edited_by_hand_is_read_leniently_by_the_general_reader(tmp_path: Path) -> None:
    url = _hand_edited(tmp_path, **LENIENT)
    with _open(url) as started:
        record = started.get("ORDERS", STORED.instance_id)
        assert record is not None
        read = record.instance
        [change] = started.changes_after(0)
    tree = {**instance_to_dict(STORED), **LENIENT}
    assert readers._read_plain_instance(tree, 0, None) is None  # not the quick path's shape
    assert read.status is InstanceStatus.DOWN
    assert read.port == PortInfo(8081, True)
    assert dict(read.metadata) == {"replicas": "3"}
    assert read.lease_info.duration_secs == 60
    assert read.is_coordinating_discovery_server is True
    assert change.instance is read  # the lease and its change still share the one read


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"port": {"$": "eighty", "@enabled": "true"}}, "instance.port.$ must be an integer"),
        ({"status": "SLEEPING"}, "instance.status has unknown value 'SLEEPING'"),
    ],
)
def test_a_row_the_codec_cannot_read_stops_the_start_with_the_readers_reason(
    tmp_path: Path, fields: dict[str, object], reason: str
) -> None:
    url = _hand_edited(tmp_path, **fields)
    with pytest.raises(DecodeError, match=re.escape(reason)):
        _open(url)


# -- a blank data-center name ---------------------------------------------------------------------
#
# The register rules refuse a blank dataCenterInfo name (Registry.register, every way in), but
# before they were applied there (2026-12-01) an in-process Registry.register stored one as
# given. Such a row is read as a registry payload is read: the name from "@class", so every
# reader of the row agrees (a node's start, another node's catch-up, a write reading the row
# it changes) with what every client of the writer read from its JSON, and Java clients, which
# refuse a blank name, can read what the node serves.


@pytest.mark.parametrize(
    ("data_center", "name"),
    [
        ({"@class": DEFAULT_DATA_CENTER_CLASS, "name": ""}, "MyOwn"),
        (
            {"@class": AMAZON_DATA_CENTER_CLASS, "name": " ", "metadata": {"ami-id": "ami-1"}},
            "Amazon",
        ),
    ],
)
def test_a_stored_blank_data_center_name_is_read_from_its_class_by_every_reader(
    tmp_path: Path, data_center: dict[str, object], name: str
) -> None:
    url = sqlite_file_url(tmp_path)
    other_node = _open(url)  # holds the database at sequence 0, as a peer node would
    try:
        _write(url, [(STORED, None)])
        edited = orjson.dumps({**instance_to_dict(STORED), "dataCenterInfo": data_center})
        engine = sa.create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.update(leases).values(instance=edited.decode()))
                conn.execute(sa.update(changes).values(instance=edited.decode()))
        finally:
            engine.dispose()
        other_node.sync()  # catches up change by change
        caught_up = other_node.get("ORDERS", STORED.instance_id)
        [change] = other_node.changes_after(0)
    finally:
        other_node.close()
    assert caught_up is not None
    assert caught_up.instance.data_center_info.name == name
    assert change.instance.data_center_info.name == name
    # What a client of the writer read from the JSON it served for that instance:
    served = readers.read_instance(orjson.loads(edited), "instance", now_ms=0, registration=False)
    assert served.data_center_info.name == name
    with _open(url) as started:
        record = started.get("ORDERS", STORED.instance_id)
        assert record is not None
        assert record.instance.data_center_info.name == name
        assert instance_to_dict(record.instance)["dataCenterInfo"]["name"] == name
        assert record.instance == caught_up.instance
        # A write reads the row it changes: the instance it stores keeps the name read.
        Registry(started).update_status("ORDERS", STORED.instance_id, InstanceStatus.DOWN)
        changed = started.get("ORDERS", STORED.instance_id)
        assert changed is not None
        assert changed.instance.status is InstanceStatus.DOWN
        assert changed.instance.data_center_info.name == name
