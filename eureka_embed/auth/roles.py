"""Who may do what: roles, the identity a request carries, and the one decision on it.

Both adapters and the ASGI heartbeat path ask :func:`refusal_reason` (through
:class:`~eureka_embed.auth.guard.AccessGuard`); nothing else decides access.

========  ===============================================================================
role      may
========  ===============================================================================
read      every GET of the Eureka API, the dashboard, ``/metrics``
register  read, and write (register, heartbeat, cancel, metadata, status override) the
          instances of its ``apps`` (all applications when it names none)
admin     read, and write any application
peer      read, ``POST peerreplication/batch/``, and any request with the replication
          header (which every other identity is refused)
========  ===============================================================================
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

__all__ = ["ANONYMOUS", "Access", "Identity", "Role", "refusal_reason"]


class Role(str, enum.Enum):
    READ = "read"
    REGISTER = "register"
    ADMIN = "admin"
    PEER = "peer"

    @classmethod
    def parse(cls, text: str) -> Role:
        """:raises ValueError: not a role's name, with the names that are."""
        try:
            return cls(text)
        except ValueError:
            known = ", ".join(role.value for role in cls)
            raise ValueError(f"unknown role {text!r} (roles are {known})") from None


class Access(enum.Enum):
    """What a request needs, as the route and method say (:mod:`eureka_embed.auth.guard`)."""

    #: Probes: nothing.
    OPEN = "open"
    READ = "read"
    #: A write to the application in the path.
    WRITE = "write"
    #: A replication batch.
    REPLICATE = "replicate"
    #: An operator's action that nodes also replicate to their peers (an ASG's status, which
    #: Eureka's replication client sends on its own, not in a batch): admin, or a peer with
    #: the replication header.
    OPERATE = "operate"
    #: Anything else an operator may do (a route we do not know: closed by default).
    ADMIN = "admin"


_READERS: Final = frozenset({Role.READ, Role.REGISTER, Role.ADMIN, Role.PEER})


@dataclass(frozen=True, slots=True)
class Identity:
    """Who sent a request: a name (for logs and reasons), its roles, the applications it may
    write with ``register`` (upper case; None: all of them)."""

    name: str
    roles: frozenset[Role]
    apps: frozenset[str] | None = None
    # The roles as flags, read on every request: a set lookup of an Enum hashes in Python.
    reader: bool = field(init=False, repr=False, compare=False)
    writer: bool = field(init=False, repr=False, compare=False)
    admin: bool = field(init=False, repr=False, compare=False)
    peer: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        flags = {
            "reader": bool(self.roles & _READERS),
            "writer": Role.REGISTER in self.roles,
            "admin": Role.ADMIN in self.roles,
            "peer": Role.PEER in self.roles,
        }
        for name, value in flags.items():
            object.__setattr__(self, name, value)

    @classmethod
    def of(
        cls, name: str, roles: Iterable[Role | str], apps: Iterable[str] | None = None
    ) -> Identity:
        """An identity from role names and application names in any case.

        :raises ValueError: an unknown role.
        """
        parsed = frozenset(r if isinstance(r, Role) else Role.parse(r) for r in roles)
        return cls(name, parsed, None if apps is None else frozenset(a.upper() for a in apps))

    def may_write(self, app: str) -> bool:
        if self.admin:
            return True
        if not self.writer:
            return False
        return self.apps is None or app.upper() in self.apps


#: A request without credentials, where the credentials file grants anonymous nothing.
ANONYMOUS: Final = Identity("anonymous", frozenset())


def refusal_reason(
    identity: Identity, access: Access, app: str | None, *, replication: bool
) -> str | None:
    """Why ``identity`` may not make this request, or None when it may.

    ``app`` is the application in the path (writes); ``replication``: the request carries
    the replication header, which only peers may send.
    """
    if replication and not identity.peer:
        return (
            f"{identity.name} may not send the replication header: only the peer role may "
            "(it makes writes skip the rules for clients)"
        )
    # Heartbeats first: nearly every request is one.
    if access is Access.WRITE:
        if replication or (app is not None and identity.may_write(app)):
            return None
        if identity.writer and app is not None:
            return f"{identity.name} may not write application {app.upper()!r}"
        return f"{identity.name} lacks the register or admin role"
    if access is Access.READ:
        return None if identity.reader else f"{identity.name} lacks the read role"
    if access is Access.OPEN:
        return None
    if access is Access.REPLICATE:
        return None if identity.peer else f"{identity.name} lacks the peer role"
    if access is Access.OPERATE and replication:
        return None  # a peer (checked above) passing on what an admin did on its node
    return None if identity.admin else f"{identity.name} lacks the admin role"
