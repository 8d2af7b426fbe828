"""How peer replication batches, times out and retries (SPEC section 4, with our deviations)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ReplicationSettings"]


@dataclass(frozen=True, slots=True)
class ReplicationSettings:
    """Defaults are Eureka's unless marked *ours*."""

    #: Pending tasks per peer; past it the oldest is dropped.
    queue_capacity: int = 10_000
    #: Items per batch request.
    max_batch: int = 250
    #: *ours* (Eureka: 500 ms): the longest a task waits for its batch to be sent.
    max_batch_delay_s: float = 0.1
    #: Tasks older than this when their batch is built are dropped (Eureka's
    #: maxTimeForReplication).
    max_task_age_s: float = 30.0
    connect_timeout_s: float = 1.0
    read_timeout_s: float = 5.0
    #: First wait after a 503 or a read time-out: the peer is there but busy.
    busy_retry_s: float = 1.0
    #: First wait after any other network failure (refused, reset, connect time-out).
    network_retry_s: float = 0.1
    #: *ours*: the wait doubles with each failure in a row, up to this (Eureka never backs off).
    #: Short, because the first answer after a partition starts the reconciliation.
    max_retry_s: float = 1.0
    #: *ours*: an idle peer is sent an empty batch this often, so its status stays current;
    #: an unreachable one after each retry wait. Below ``max_task_age_s``, so that a partition
    #: long enough for tasks to age out is noticed by every node, even one with nothing to send.
    probe_interval_s: float = 10.0
    #: *ours*: on stop, what is pending is still sent to reachable peers for this long.
    stop_flush_s: float = 1.0
    #: *ours*: how often the apps hashcodes of the peers are compared with this node's; a
    #: peer that differs is reconciled with (:mod:`.reconcile`), as is one reachable again.
    reconcile_interval_s: float = 30.0
    #: *ours*: how long a cancel is remembered, so a peer met again after a partition does
    #: not bring the instance back; past it, a stale copy lives until its lease expires.
    cancel_retention_s: float = 600.0
    #: *ours*: the most cancels remembered (the oldest are forgotten first).
    cancel_log_capacity: int = 100_000
    #: ``https://`` peers: trusted CA certificates (PEM), and this node's client certificate
    #: and key for peers that ask for one (``serve --peer-ca-file/--peer-cert/--peer-key``).
    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None

    def __post_init__(self) -> None:
        if self.queue_capacity < 1 or self.max_batch < 1:
            raise ValueError("queue_capacity and max_batch must be at least 1")
        if self.cancel_log_capacity < 1:
            raise ValueError("cancel_log_capacity must be at least 1")
        for name in (
            "max_task_age_s",
            "connect_timeout_s",
            "read_timeout_s",
            "busy_retry_s",
            "network_retry_s",
            "max_retry_s",
            "probe_interval_s",
            "reconcile_interval_s",
            "cancel_retention_s",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.max_batch_delay_s < 0 or self.stop_flush_s < 0:
            raise ValueError("max_batch_delay_s and stop_flush_s must not be negative")
