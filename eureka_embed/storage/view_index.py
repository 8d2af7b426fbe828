"""Watch indexes: for each view of the registry, a number that moves when that view changes.

A *view* is what one read shows: the whole registry (``GET apps`` and the delta), one
application (``GET apps/{APP}`` and its instances), or one VIP or secure VIP. Its index is
taken from the change log's sequence: the sequence of the newest change that touched the view,
plus an offset (at least 1, so that an index is never 0, and larger after a store was found to
have gone backwards, see :meth:`ViewIndexes.reset`).

A change touches the views its instance belongs to after the change *and* those it belonged
to before: an instance that moves from VIP ``a`` to VIP ``b`` moves both, and a cancelled one
moves the views it left. What an instance belonged to is remembered per instance from the
changes seen, not read from the records, so the order in which a store updates its records
and its log does not matter.

Indexes are kept per view that ever had an instance and never dropped with the change log:
pruning old changes must not move an index backwards (a watcher would then hold on an index
the view had already passed). That costs one dict entry per application and VIP name seen.

What each instance belongs to is held as one tuple of views shared by every instance with the
same views (the instances of one application, usually): kept per instance, the tuples and
their views cost about 300 bytes each, a sixth of what the registry holds per instance.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, NamedTuple

from eureka_embed.model import ActionType, InstanceInfo
from eureka_embed.storage.base import Change, LeaseRecord

__all__ = ["ALL", "View", "ViewIndexes", "app_view", "views_of", "vip_view"]


class View(NamedTuple):
    """A watchable view: ``kind`` is ``all``, ``app``, ``vip`` or ``svip``; ``name`` is the
    application (upper-case) or VIP (lower-case, as the registry matches them)."""

    kind: str
    name: str = ""


#: The whole registry: ``GET apps`` and ``GET apps/delta``.
ALL: Final = View("all")


def app_view(app: str) -> View:
    return View("app", app.upper())


def vip_view(vip: str, *, secure: bool = False) -> View:
    return View("svip" if secure else "vip", vip.strip().lower())


def views_of(instance: InstanceInfo) -> tuple[View, ...]:
    """The views ``instance`` shows in, besides :data:`ALL`."""
    return (
        app_view(instance.app),
        *(vip_view(name) for name in instance.vip_names()),
        *(vip_view(name, secure=True) for name in instance.secure_vip_names()),
    )


class ViewIndexes:
    """The index of every view; the owner serialises the calls (a store's write lock)."""

    __slots__ = ("_floor", "_last", "_member_of", "_offset", "_shared")

    def __init__(self) -> None:
        self._last: dict[View, int] = {}
        #: application -> instance id -> the views it is in (nested: no key tuple per instance)
        self._member_of: dict[str, dict[str, tuple[View, ...]]] = {}
        #: every distinct tuple of views, once (as many as the views: not one per instance)
        self._shared: dict[tuple[View, ...], tuple[View, ...]] = {}
        #: The sequence every view is at least at: the one the store started (or reloaded) at.
        self._floor = 0
        self._offset = 1

    def index(self, view: View) -> int:
        return max(self._last.get(view, 0), self._floor) + self._offset

    def sequence_at(self, index: int) -> int | None:
        """The sequence the registry was at when :data:`ALL` had ``index``; None when no
        index given out since the last :meth:`reset` was ``index``."""
        sequence = index - self._offset
        if sequence < self._floor or sequence > max(self._last.get(ALL, 0), self._floor):
            return None
        return sequence

    def record(self, change: Change) -> None:
        """Move the views ``change`` touched to its sequence."""
        instance = change.instance
        app, instance_id = instance.app, instance.instance_id
        members = self._member_of.get(app)
        before = members.pop(instance_id, ()) if members is not None else ()
        sequence = change.sequence
        last = self._last
        last[ALL] = sequence
        if change.action is ActionType.DELETED:
            # The removed instance is the one last recorded: it leaves the views it was in
            # (its own views only when it was not known, as after a reload without it).
            for view in before or views_of(instance):
                last[view] = sequence
            if members is not None and not members:
                del self._member_of[app]
            return
        after = self._share(views_of(instance))
        for view in (*before, *after):
            last[view] = sequence
        if members is None:
            members = self._member_of[app] = {}
        members[instance_id] = after

    def _share(self, views: tuple[View, ...]) -> tuple[View, ...]:
        return self._shared.setdefault(views, views)

    def reset(self, sequence: int, records: Iterable[LeaseRecord]) -> None:
        """Start over from ``records`` at ``sequence`` (a store that reloaded everything).

        Every view moves to ``sequence``: what changed while the log was not followed is not
        known. Should the store be behind what this process already showed (its database was
        replaced), the offset grows so that indexes still only go forwards.
        """
        shown = self.index(ALL)
        if sequence + self._offset < shown:
            self._offset = shown - sequence + 1
        self._floor = sequence
        self._last.clear()
        self._shared.clear()
        self._member_of = {}
        # The views follow from these three names only, and an application's instances mostly
        # share them: worked out once per distinct triple (a reload files every instance).
        by_names: dict[tuple[str, str | None, str | None], tuple[View, ...]] = {}
        for record in records:
            instance = record.instance
            names = (instance.app, instance.vip_address, instance.secure_vip_address)
            views = by_names.get(names)
            if views is None:
                views = by_names[names] = self._share(views_of(instance))
            members = self._member_of.get(names[0])
            if members is None:
                members = self._member_of[names[0]] = {}
            members[instance.instance_id] = views
