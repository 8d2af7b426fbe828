"""Registry outcomes and errors as HTTP statuses: the one table every way in shares.

The HTTP endpoints, the in-process client (:mod:`eureka_embed.client.inprocess`) and the
replication receiver (its per-item ``statusCode``) all answer through these functions, so a
caller sees the same status, and where there is one the same reason, whichever way it came in:

=====================================  ======  ============================================
outcome                                status  notes
=====================================  ======  ============================================
registered                             204     Eureka's answer to ``POST apps/{APP}``
other write applied, renewal OK        200
:class:`~eureka_embed.errors.InvalidInput`    400  the reason says what is wrong
delta turned off                       403     ``GET apps/delta``
start-up copy from peers running       403     ``GET apps``, ``apps/delta`` (as Eureka)
InstanceNotFound, renewal NOT_FOUND,   404     the client must register (again)
unknown application or instance
renewal CONFLICT                       409     with the instance this side holds
body above the limit                   413
body in an encoding we cannot read     415
other :class:`~eureka_embed.errors.EurekaError`  500  its reason is safe to send
anything unexpected                    500     no details: they go to the server log
StorageUnavailable                     503     ``Retry-After``: retry later
=====================================  ======  ============================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from eureka_embed.errors import EurekaError, InstanceNotFound, InvalidInput, StorageUnavailable
from eureka_embed.registry import RenewOutcome

__all__ = [
    "DELTA_DISABLED",
    "DONE",
    "REGISTERED",
    "RETRY_AFTER_SECONDS",
    "STARTUP_COPY_RUNNING",
    "WATCHES_ENDED",
    "HttpRefusal",
    "Outcome",
    "application_not_found",
    "error_outcome",
    "instance_id_not_found",
    "remote_region_not_ready",
    "renew_outcome",
]

#: Peers retry a 503 after 1 s regardless; a client that honours the header waits a little more,
#: which is kinder to a store that is recovering.
RETRY_AFTER_SECONDS: Final = 5

#: A registration was applied (Eureka answers 204, with no body).
REGISTERED: Final = 204
#: Any other write was applied, or a heartbeat renewed the lease.
DONE: Final = 200


@dataclass(frozen=True, slots=True)
class Outcome:
    """A status with, for a refusal, the reason and the headers that go with it."""

    status: int
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class HttpRefusal(Exception):
    """A refusal that is no registry error (a body too large, an unreadable encoding, ...).

    Raised by the HTTP layer where a registry error would be raised, so one table
    (:func:`error_outcome`) turns both into answers.
    """

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


_UNEXPECTED: Final = Outcome(500, "internal server error (the server log has the details)")


def error_outcome(exc: BaseException) -> Outcome:
    """The answer to a call that raised ``exc``."""
    if isinstance(exc, HttpRefusal):
        return exc.outcome
    if isinstance(exc, InvalidInput):
        return Outcome(400, exc.reason)
    if isinstance(exc, InstanceNotFound):
        return Outcome(404, exc.reason)
    if isinstance(exc, StorageUnavailable):
        return Outcome(503, exc.reason, (("Retry-After", str(RETRY_AFTER_SECONDS)),))
    if isinstance(exc, EurekaError):
        # A StorageError or another failure raised on purpose: its reason is safe to send.
        return Outcome(500, exc.reason)
    return _UNEXPECTED


def renew_outcome(outcome: RenewOutcome, app: str, instance_id: str) -> Outcome:
    """A heartbeat's answer; on CONFLICT the caller sends the instance it holds as the body."""
    if outcome is RenewOutcome.OK:
        return _RENEWED
    if outcome is RenewOutcome.CONFLICT:
        return _CONFLICT
    return Outcome(
        404,
        f"instance {instance_id!r} of {app.upper()!r} must register (again): it is unknown, "
        "its status is UNKNOWN, or this heartbeat carries a newer lastDirtyTimestamp than "
        "the registry holds",
    )


_RENEWED: Final = Outcome(DONE)
_CONFLICT: Final = Outcome(409)
#: ``GET apps/delta`` on a registry configured with ``delta_enabled=False``.
DELTA_DISABLED: Final = Outcome(403, "this server does not serve deltas; fetch the full registry")
#: Eureka's ``shouldAllowAccess``: no full or delta fetch until the start-up copy is over, so
#: neither a client nor a peer's own start-up copy takes a half-copied registry for the whole.
STARTUP_COPY_RUNNING: Final = Outcome(
    403, "the start-up copy from peers is in progress; fetch from another node or retry later"
)
#: A watch (``?index=``) on a server that is stopping: its clients should move to another node.
WATCHES_ENDED: Final = Outcome(503, "this server is stopping; watch another node")


def application_not_found(app: str) -> Outcome:
    return Outcome(404, f"no instances registered under application {app.upper()!r}")


def instance_id_not_found(instance_id: str) -> Outcome:
    return Outcome(404, f"no instance {instance_id!r} is registered")


def remote_region_not_ready(region: str) -> Outcome:
    """A full or delta read with ``?regions=`` before ``region`` was first fetched (Netflix
    answers 403 then too)."""
    return Outcome(403, f"remote region {region!r} has not been fetched yet; retry later")
