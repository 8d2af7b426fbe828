"""The one exception tree of eureka_embed.

::

    EurekaError
    ├── InvalidInput (ValueError)       bad input from a caller; HTTP 400 with ``reason``
    │   └── DecodeError                 a payload that cannot be read as Eureka JSON or XML
    │       └── ValidationError         readable, but breaks a register rule (no hostName, ...)
    ├── InstanceNotFound (LookupError)  no lease for that app and instance id; HTTP 404
    ├── StorageError                    the store failed
    │   └── StorageUnavailable          the store cannot be reached now; HTTP 503, retry later
    └── TransportError                  a request to a Eureka server got no usable answer;
                                        subclasses (connect, time-out, redirect, retries
                                        exhausted, ...) live in ``eureka_embed.client.errors``

Every error carries a human-readable ``reason`` that is safe to send to a client.
"""

from __future__ import annotations

__all__ = [
    "DecodeError",
    "EurekaError",
    "InstanceNotFound",
    "InvalidInput",
    "StorageError",
    "StorageUnavailable",
    "TransportError",
    "ValidationError",
]


class EurekaError(Exception):
    """Base of every error eureka_embed raises on purpose."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidInput(EurekaError, ValueError):
    """The caller sent something we cannot accept; nothing was changed."""


class DecodeError(InvalidInput):
    """A request body is not a readable Eureka payload in the format it claims."""


class ValidationError(DecodeError):
    """A readable payload that breaks one of Eureka's register rules."""


class InstanceNotFound(EurekaError, LookupError):
    """No lease is held for this app and instance id."""

    def __init__(self, app: str, instance_id: str) -> None:
        super().__init__(f"no instance {instance_id!r} registered under application {app!r}")
        self.app = app
        self.instance_id = instance_id


class StorageError(EurekaError):
    """The store failed to do what was asked."""


class StorageUnavailable(StorageError):
    """The store cannot be reached right now; the write did not happen and may be retried."""


class TransportError(EurekaError):
    """A request to a Eureka server failed: no connection, no answer in time, or no usable one."""
