"""Your own fixtures, composed from ``eureka_embed.testing`` next to the plugin's.

The plugin (installed with ``python -m pip install ".[testing]"``) already gives
``eureka_registry``, ``eureka_sqlite_registry``, ``eureka_server``, ``eureka_client`` and
``eureka_time``. When a test needs something they do not cover, such as two registries over one
SQLite file to play a restart, build it from the same helpers (see ``registry_file.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_file import RegistryFile

from eureka_embed.model import InstanceInfo, LeaseInfo
from eureka_embed.testing import RegistryTime


@pytest.fixture
def orders() -> InstanceInfo:
    """An instance with Eureka's usual lease: renew every 30 s, expire 90 s after the last."""
    return InstanceInfo(
        "10.0.0.7:orders:8080",
        "ORDERS",
        "10.0.0.7",
        "10.0.0.7",
        lease_info=LeaseInfo(renewal_interval_secs=30, duration_secs=90),
    )


@pytest.fixture
def registry_file(tmp_path: Path, eureka_time: RegistryTime) -> Iterator[RegistryFile]:
    """Registries over ``tmp_path / "registry.db"`` on the test's frozen time."""
    registries = RegistryFile(tmp_path / "registry.db", eureka_time)
    try:
        yield registries
    finally:
        registries.close_all()
