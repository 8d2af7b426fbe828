"""Builders shared by the registry tests."""

from __future__ import annotations

from typing import Any

from eureka_embed.model import InstanceInfo, InstanceStatus, LeaseInfo


def instance(
    n: int | str = 1,
    app: str = "ORDERS",
    *,
    status: InstanceStatus = InstanceStatus.UP,
    ldt: int = 100,
    **changes: Any,
) -> InstanceInfo:
    """An instance ``host{n}:{app}:8080`` with lastDirtyTimestamp ``ldt``."""
    info = InstanceInfo(
        instance_id=f"host{n}:{app.lower()}:8080",
        app=app,
        host_name=f"host{n}",
        ip_addr="10.0.0.1",
        status=status,
        last_dirty_timestamp=ldt,
        lease_info=LeaseInfo(renewal_interval_secs=30, duration_secs=90),
    )
    return info.evolve(**changes) if changes else info
