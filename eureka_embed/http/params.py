"""Eureka's query parameters and the replication header, read from an :class:`EndpointRequest`.

Bad values raise :class:`~eureka_embed.errors.InvalidInput`, answered as a 400 with the reason;
Eureka itself answers 500 to most of these (SPEC section 1, *ours*).
"""

from __future__ import annotations

from eureka_embed.errors import InvalidInput
from eureka_embed.http.messages import EndpointRequest
from eureka_embed.model import InstanceStatus

# The replication header has one definition, shared with the sender.
from eureka_embed.protocol import REPLICATION_HEADER

__all__ = [
    "REPLICATION_HEADER",
    "asks_for_regions",
    "is_replication",
    "status_param",
    "timestamp_param",
]

_MAX_TIMESTAMP = 2**63 - 1


def is_replication(req: EndpointRequest) -> bool:
    """True for a write a peer forwarded: applied, never replicated again."""
    value = req.header(REPLICATION_HEADER)
    return value is not None and value.strip().lower() == "true"


def asks_for_regions(req: EndpointRequest) -> bool:
    """Whether a read names remote regions (``?regions=``, known to this node or not): such
    reads are not watches and carry no watch index (see :mod:`eureka_embed.remote_regions`)."""
    value = req.query_value("regions")
    return value is not None and bool(value.strip(" ,"))


def timestamp_param(req: EndpointRequest, name: str) -> int | None:
    """An epoch-milliseconds query parameter; None when absent or blank."""
    raw = req.query_value(name)
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise InvalidInput(f"query parameter {name} must be epoch milliseconds, got {raw[:40]!r}")
    value = int(text)
    if value > _MAX_TIMESTAMP:
        raise InvalidInput(f"query parameter {name} is out of range: {text}")
    return value


def status_param(req: EndpointRequest, name: str, *, required: bool) -> InstanceStatus | None:
    """An instance status query parameter (any case); None when absent and not required."""
    raw = req.query_value(name)
    if raw is None or not raw.strip():
        if required:
            raise InvalidInput(f"query parameter {name} is required (an instance status)")
        return None
    try:
        return InstanceStatus.parse(raw)
    except ValueError:
        allowed = ", ".join(s.value for s in InstanceStatus)
        raise InvalidInput(
            f"query parameter {name} must be one of {allowed}, got {raw[:40]!r}"
        ) from None
