"""Registry settings: frozen dataclasses carrying Netflix Eureka's defaults (SPEC section 4)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RegistryConfig"]


@dataclass(frozen=True, slots=True)
class RegistryConfig:
    """How the registry applies Eureka's rules. Every default is Eureka's unless marked *ours*."""

    #: Keep expired leases while renewals in the last minute are at or below the threshold.
    self_preservation: bool = True
    #: Fraction of the expected renewals per minute below which self-preservation engages.
    renewal_percent_threshold: float = 0.85
    #: The renewal interval clients are expected to use, for the expected-renewals arithmetic.
    expected_client_renewal_interval_secs: int = 30
    #: Lease duration when an instance does not state one (leaseInfo.durationInSecs <= 0).
    default_lease_duration_secs: int = 90
    #: How often the maintenance runner evicts expired leases.
    eviction_interval_ms: int = 60_000
    #: How long changes stay in the delta.
    delta_retention_ms: int = 180_000
    #: How often the expected-renewals count is recomputed from the registry size.
    renewal_threshold_update_interval_ms: int = 15 * 60_000
    #: Compare lastDirtyTimestamp on heartbeats (404 when the client is newer, 409 for peers).
    sync_when_timestamp_differs: bool = True
    #: Serve deltas at all (Eureka answers 403 when off).
    delta_enabled: bool = True
    #: Expected clients at start. *ours*, as Spring Cloud does: 1, so the threshold is never 0
    #: and expiry works from the start instead of after the first threshold update.
    initial_expected_clients: int = 1

    def __post_init__(self) -> None:
        if not 0.0 < self.renewal_percent_threshold <= 1.0:
            raise ValueError("renewal_percent_threshold must be in (0, 1]")
        for name in (
            "expected_client_renewal_interval_secs",
            "default_lease_duration_secs",
            "eviction_interval_ms",
            "delta_retention_ms",
            "renewal_threshold_update_interval_ms",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.initial_expected_clients < 0:
            raise ValueError("initial_expected_clients must not be negative")
