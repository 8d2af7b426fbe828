"""eureka_embed: an embeddable, Netflix-Eureka-compatible service registry.

Embed a registry in four lines::

    from eureka_embed import InstanceInfo, Registry

    registry = Registry()  # memory store, Eureka's defaults
    registry.register(InstanceInfo("h1:orders:8080", "ORDERS", "h1", "10.0.0.1"))
    registry.get_application("orders")
"""

from __future__ import annotations

from eureka_embed.clock import Clock, ManualClock, SystemClock
from eureka_embed.config import RegistryConfig
from eureka_embed.errors import (
    DecodeError,
    EurekaError,
    InstanceNotFound,
    InvalidInput,
    StorageError,
    StorageUnavailable,
    ValidationError,
)
from eureka_embed.events import RegistryEvent, WriteAction
from eureka_embed.maintenance import MaintenanceRunner
from eureka_embed.model import (
    ActionType,
    Application,
    Applications,
    DataCenterInfo,
    InstanceInfo,
    InstanceStatus,
    LeaseInfo,
    PortInfo,
)
from eureka_embed.registry import Registry, RenewOutcome, RenewResult
from eureka_embed.storage import MemoryStore, Store

__version__ = "0.1.0"

__all__ = [
    "ActionType",
    "Application",
    "Applications",
    "Clock",
    "DataCenterInfo",
    "DecodeError",
    "EurekaError",
    "InstanceInfo",
    "InstanceNotFound",
    "InstanceStatus",
    "InvalidInput",
    "LeaseInfo",
    "MaintenanceRunner",
    "ManualClock",
    "MemoryStore",
    "PortInfo",
    "Registry",
    "RegistryConfig",
    "RegistryEvent",
    "RenewOutcome",
    "RenewResult",
    "StorageError",
    "StorageUnavailable",
    "Store",
    "SystemClock",
    "ValidationError",
    "WriteAction",
    "__version__",
]
