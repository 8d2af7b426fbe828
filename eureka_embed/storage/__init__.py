"""Stores: where the registry keeps leases and its change log (see ``base`` for the contract)."""

from __future__ import annotations

from eureka_embed.storage.base import Change, LeaseRecord, Snapshot, Store, Write
from eureka_embed.storage.memory import MemoryStore
from eureka_embed.storage.url import store_from_url

__all__ = ["Change", "LeaseRecord", "MemoryStore", "Snapshot", "Store", "Write", "store_from_url"]
