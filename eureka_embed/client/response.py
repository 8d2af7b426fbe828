"""What every client operation returns, and the names of the operations themselves."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Generic, TypeVar

from eureka_embed.protocol import INDEX_HEADER

__all__ = ["EMPTY_HEADERS", "INDEX_HEADER", "EurekaResponse", "RequestKind"]

T = TypeVar("T")

EMPTY_HEADERS: Mapping[str, str] = MappingProxyType({})

# INDEX_HEADER is sent by servers that offer watches with every registry read: a number that
# grows with each change of what the answer shows. A plain Eureka server sends none.
_INDEX_KEY = INDEX_HEADER.lower()


class RequestKind(str, enum.Enum):
    """One value per operation of the client contract: for metrics, logs and retry rules."""

    REGISTER = "register"
    CANCEL = "cancel"
    HEARTBEAT = "heartbeat"
    STATUS_UPDATE = "status_update"
    DELETE_STATUS_OVERRIDE = "delete_status_override"
    GET_APPLICATIONS = "get_applications"
    GET_DELTA = "get_delta"
    #: A delta asked for with ``?index=&wait=``: the server may hold it until a change, so its
    #: time is counted apart from the polled delta's.
    GET_DELTA_WATCH = "get_delta_watch"
    GET_VIP = "get_vip"
    GET_SECURE_VIP = "get_secure_vip"
    GET_APPLICATION = "get_application"
    GET_INSTANCE = "get_instance"

    @property
    def is_read(self) -> bool:
        return self.name.startswith("GET_")

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class EurekaResponse(Generic[T]):
    """An answer from a Eureka server (or the in-process registry).

    ``entity`` is the decoded body where the operation has one and the status carries it
    (200 for reads, 409 for a heartbeat conflict); None otherwise. ``headers`` have lower-case
    names. ``text`` is the body of an error answer, e.g. the reason of a 400.
    """

    status: int
    entity: T | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: EMPTY_HEADERS)
    text: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def index(self) -> int | None:
        """The answer's ``X-Eureka-Index``; None when the server sent none (or garbage), which
        is how a client tells a plain Eureka server from one it can watch."""
        raw = self.headers.get(_INDEX_KEY)
        if raw is None:
            return None
        try:
            value = int(raw.strip())
        except ValueError:
            return None
        return value if value >= 0 else None

    @property
    def location(self) -> str | None:
        """Where a redirect points."""
        return self.headers.get("location")

    def require_entity(self) -> T:
        """The entity; ``LookupError`` when the answer carries none (e.g. a 404)."""
        if self.entity is None:
            raise LookupError(f"the answer (HTTP {self.status}) carries no entity")
        return self.entity
