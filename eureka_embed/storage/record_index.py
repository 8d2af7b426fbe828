"""Records by application and instance id: the in-memory view every store answers reads from.

MemoryStore keeps its data here; SqlStore keeps its cache of the database here. The index does
no locking of its own: each store guards it with the lock its own consistency needs.
"""

from __future__ import annotations

from eureka_embed.storage.base import LeaseRecord

__all__ = ["RecordIndex"]


class RecordIndex:
    __slots__ = ("_apps", "count")

    def __init__(self) -> None:
        self._apps: dict[str, dict[str, LeaseRecord]] = {}
        self.count = 0

    def get(self, app: str, instance_id: str) -> LeaseRecord | None:
        members = self._apps.get(app)
        return None if members is None else members.get(instance_id)

    def find(self, instance_id: str) -> list[LeaseRecord]:
        # A scan over apps, not an index by id: lookups by id alone are rare, and an index
        # would cost every registered instance a few hundred bytes.
        found = (members.get(instance_id) for _, members in sorted(self._apps.items()))
        return [record for record in found if record is not None]

    def records_of(self, app: str) -> list[LeaseRecord]:
        return list(self._apps.get(app, {}).values())

    def records(self) -> list[LeaseRecord]:
        return [record for members in self._apps.values() for record in members.values()]

    def put(self, record: LeaseRecord) -> LeaseRecord | None:
        """Store ``record`` under its app and id; returns the record it replaced."""
        members = self._apps.setdefault(record.app, {})
        previous = members.get(record.instance_id)
        members[record.instance_id] = record
        if previous is None:
            self.count += 1
        return previous

    def remove(self, app: str, instance_id: str) -> LeaseRecord | None:
        members = self._apps.get(app)
        if members is None:
            return None
        removed = members.pop(instance_id, None)
        if removed is not None:
            self.count -= 1
            if not members:
                del self._apps[app]
        return removed
