"""What the registry tells listeners after each successful write (peer replication, metrics)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from eureka_embed.model import InstanceInfo, InstanceStatus

__all__ = ["RegistryEvent", "RegistryListener", "WriteAction"]


class WriteAction(str, enum.Enum):
    """The writes Eureka replicates, spelled as its peer-replication batches spell them."""

    REGISTER = "Register"
    HEARTBEAT = "Heartbeat"
    CANCEL = "Cancel"
    STATUS_UPDATE = "StatusUpdate"
    DELETE_STATUS_OVERRIDE = "DeleteStatusOverride"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    """A write that took effect. ``replication`` is true when a peer sent it to us.

    ``instance`` is the stored instance right after the write (before it, for a cancel).
    ``status`` is the new status of a status update or override removal.
    """

    action: WriteAction
    app: str
    instance_id: str
    instance: InstanceInfo
    replication: bool
    status: InstanceStatus | None = None


RegistryListener = Callable[[RegistryEvent], None]
