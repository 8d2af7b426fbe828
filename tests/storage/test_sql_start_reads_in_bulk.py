"""A node starting over a SQLite file builds its whole store with the collector held off
(see eureka_embed.codec.bulk), and gets back exactly what was stored."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from eureka_embed.codec import instance_from_dict
from eureka_embed.model import InstanceInfo
from eureka_embed.registry import Registry
from eureka_embed.storage import sql
from eureka_embed.storage.sql import SqlStore
from tests.databases import sqlite_file_url
from tests.registry.helpers import instance

pytestmark = pytest.mark.usefixtures("collection_on")


def test_a_start_decodes_stored_instances_with_collection_off_and_turns_it_back_on(
    tmp_path: Path,
) -> None:
    url = sqlite_file_url(tmp_path)
    writer = SqlStore(url, migrate_schema=True, background=False)
    registered = [instance(n, ldt=100 + n) for n in range(3)]
    for info in registered:
        Registry(writer).register(info)
    writer.close()
    states: list[bool] = []
    real = instance_from_dict

    def spy(*args: Any, **kwargs: Any) -> InstanceInfo:
        states.append(gc.isenabled())
        return real(*args, **kwargs)

    with mock.patch.object(sql, "instance_from_dict", spy):
        started = SqlStore(url, background=False)
    try:
        assert states and not any(states)
        assert gc.isenabled()
        loaded = sorted(
            (r.instance for r in started.records_of("ORDERS")), key=lambda i: i.host_name
        )
        assert [i.host_name for i in loaded] == ["host0", "host1", "host2"]
        assert loaded[0].port is loaded[1].port  # one object for a port they all use
    finally:
        started.close()
