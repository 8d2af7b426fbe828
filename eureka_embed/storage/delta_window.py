"""The delta's retention window kept between reads, so a read costs what changed since the last.

``GET apps/delta`` shows, for every instance changed within the window (3 minutes), its latest
change, grouped by application and sorted as the full registry is. Built from the log on every
read, that costs the whole window: in a deploy storm, 40,000 changes regrouped and resorted
several times a second while clients poll. :class:`DeltaWindow` keeps the grouping instead and
is brought up to date by each read: the changes logged since the previous read are added, the
ones that fell out of the window dropped, and only the applications either touched are grouped
again. An unchanged application keeps its :class:`~eureka_embed.model.Application` object, so
the payload layer's per-application caches find it unchanged by identity.

**The same window as the log's.** :meth:`IndexedStore._logged_since` takes the log from its
newest end back to (not including) the newest change older than the cut-off, and the pruning of
the log drops changes from its front. The window follows both rules exactly, also when clocks
disagree and the log is not in time order: the newest old change is found among the log's
*suffix minima* (a change older than every change after it), kept in a monotonic queue as
changes arrive, so each change enters and leaves the window once.

Changes are numbered by their position in the log (how many were appended before them, since
the log was last replaced), not by sequence: other nodes' changes may arrive out of sequence
order in a shared database, but never out of log order.

Not thread-safe: its owner serialises calls (a lock of its own, not the store's write lock, so
writers and heartbeats never wait on a regrouping).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from eureka_embed.model import Application, InstanceInfo
from eureka_embed.storage.base import Change

__all__ = ["DeltaWindow"]


class DeltaWindow:
    """Each instance's latest change among the changes of the log from a position on."""

    __slots__ = (
        "_apps",
        "_changes",
        "_dirty",
        "_first",
        "_latest",
        "_members",
        "_minima",
        "_sorted",
        "epoch",
        "position",
        "since_ms",
    )

    def __init__(self, epoch: int, position: int) -> None:
        #: The log's epoch (how many times it was replaced) this window follows.
        self.epoch = epoch
        #: The log position after the newest change taken in.
        self.position = position
        #: The latest cut-off applied: a window cut once cannot take back what it dropped.
        self.since_ms = -(2**63)
        # The changes taken in, oldest first; the first one is at log position ``_first``.
        self._changes: deque[Change] = deque()
        self._first = position
        # (timestamp, position) of each change older than every change after it, oldest first.
        self._minima: deque[tuple[int, int]] = deque()
        self._latest: dict[tuple[str, str], Change] = {}
        # Per application: instance id -> its latest change's instance.
        self._members: dict[str, dict[str, InstanceInfo]] = {}
        self._dirty: set[str] = set()
        self._apps: dict[str, Application] = {}
        self._sorted: tuple[Application, ...] = ()

    def __len__(self) -> int:
        """Instances in the window."""
        return len(self._latest)

    def add(self, changes: Sequence[Change]) -> None:
        """Take in ``changes``, the log's next ones after :attr:`position`, in log order."""
        position = self.position
        minima = self._minima
        latest = self._latest
        for change in changes:
            timestamp = change.timestamp_ms
            while minima and minima[-1][0] >= timestamp:
                minima.pop()
            minima.append((timestamp, position))
            position += 1
            self._changes.append(change)
            key = change.key
            latest[key] = change
            app, instance_id = key
            members = self._members.get(app)
            if members is None:
                members = self._members[app] = {}
            members[instance_id] = change.instance
            self._dirty.add(app)
        self.position = position

    def cut(self, since_ms: int, log_start: int) -> None:
        """Drop what the log's window from ``since_ms`` no longer holds: the changes up to the
        newest one older than ``since_ms``, and those before ``log_start`` (pruned)."""
        minima = self._minima
        end = log_start  # the first position kept
        while minima and minima[0][0] < since_ms:
            end = max(end, minima.popleft()[1] + 1)
        while minima and minima[0][1] < end:
            minima.popleft()
        changes = self._changes
        latest = self._latest
        first = self._first
        while first < end and changes:
            change = changes.popleft()
            first += 1
            key = change.key
            if latest.get(key) is change:  # not changed again since: it leaves the window
                del latest[key]
                app, instance_id = key
                members = self._members[app]
                del members[instance_id]
                if not members:
                    del self._members[app]
                self._dirty.add(app)
        self._first = first if changes else max(first, end)
        if not latest:
            # A dict never shrinks as it empties: after a storm, give back its table.
            self._latest = {}
        self.since_ms = max(self.since_ms, since_ms)

    def applications(self) -> tuple[Application, ...]:
        """The window's instances grouped by application name, then sorted by instance id."""
        dirty = self._dirty
        if not dirty:
            return self._sorted
        apps = self._apps
        for name in dirty:
            members = self._members.get(name)
            if members is None:
                apps.pop(name, None)
            else:
                apps[name] = Application(name, tuple(map(members.__getitem__, sorted(members))))
        dirty.clear()
        self._sorted = tuple(apps[name] for name in sorted(apps))
        return self._sorted
