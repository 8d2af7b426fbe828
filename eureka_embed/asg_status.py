"""The ENABLED/DISABLED state of auto scaling groups, as operators set it (Eureka's ASG status).

Eureka's AWS registry takes every instance of a disabled ASG (``InstanceInfo.asg_name``) out of
service, whatever the instance itself says, unless an explicit status override names another
status; ``PUT asg/{asgName}/status?value=`` sets the state and peers receive it as Eureka's
``HttpReplicationClient.statusUpdate(asgName, ASGStatus)`` sends it.

Eureka asks AWS about an ASG it has not been told of; we have no AWS to ask, so an ASG nobody
set has no state here and does not take part in an instance's status. The state is held in
memory by each node, as Eureka holds it: replication carries it to peers, and a restarted node
learns it again from the operator (or a peer's next update).
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Mapping
from types import MappingProxyType

from eureka_embed.errors import InvalidInput

__all__ = ["AsgListener", "AsgStatus", "AsgStatuses"]


class AsgStatus(str, enum.Enum):
    """Eureka's ``ASGResource.ASGStatus``."""

    ENABLED = "ENABLED"
    DISABLED = "DISABLED"

    @classmethod
    def parse(cls, text: str | None) -> AsgStatus:
        """``text`` in any case, as Eureka reads the ``value`` parameter.

        :raises InvalidInput: missing, or neither ENABLED nor DISABLED.
        """
        if text is None or not text.strip():
            raise InvalidInput("the value parameter is required: ENABLED or DISABLED")
        try:
            return cls(text.strip().upper())
        except ValueError:
            raise InvalidInput(
                f"value {text[:40]!r} is not an ASG status: ENABLED or DISABLED"
            ) from None

    def __str__(self) -> str:
        return self.value


AsgListener = Callable[[str, AsgStatus, bool], None]
"""Called with the ASG name, its new status and whether a peer sent it (``replication``)."""


class AsgStatuses:
    """The ASG states this node was told of; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._statuses: dict[str, AsgStatus] = {}

    def get(self, asg_name: str | None) -> AsgStatus | None:
        """The state of ``asg_name``; None when it was never set (or the instance has no ASG)."""
        if asg_name is None:
            return None
        return self._statuses.get(asg_name)

    def set(self, asg_name: str, status: AsgStatus) -> None:
        with self._lock:
            self._statuses[asg_name] = status

    def snapshot(self) -> Mapping[str, AsgStatus]:
        with self._lock:
            return MappingProxyType(dict(self._statuses))
