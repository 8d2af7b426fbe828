"""The client contract served straight from a :class:`~eureka_embed.registry.Registry`.

For embedding: a service that hosts the registry registers itself (or its workers) through
the same interface, and the same :class:`~eureka_embed.client.discovery.DiscoveryClient`,
as remote services use over HTTP, with no sockets and no encoding. Answers carry the statuses
the HTTP server would give (204 register, 404 unknown, 409 heartbeat conflict, ...); registry
outcomes and errors become statuses through the table the HTTP server uses too,
:mod:`eureka_embed.http.outcomes`, so both ways in answer alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from eureka_embed.client.contract import EurekaHttpClient
from eureka_embed.client.response import EurekaResponse
from eureka_embed.errors import EurekaError, InstanceNotFound
from eureka_embed.http.outcomes import (
    DELTA_DISABLED,
    DONE,
    REGISTERED,
    HttpRefusal,
    Outcome,
    application_not_found,
    error_outcome,
    instance_id_not_found,
    renew_outcome,
)
from eureka_embed.model import Application, Applications, InstanceInfo, InstanceStatus
from eureka_embed.registry import Registry, RenewOutcome

__all__ = ["InProcessEurekaClient"]

T = TypeVar("T")

_OK: EurekaResponse[None] = EurekaResponse(DONE)
_NO_CONTENT: EurekaResponse[None] = EurekaResponse(REGISTERED)


class InProcessEurekaClient(EurekaHttpClient):
    """Eureka's operations on ``registry``, in the calling thread.

    ``replication=True`` makes the writes count as coming from a peer (Eureka's replication
    rules, 409 with the stored instance on a heartbeat conflict). The registry belongs to the
    caller: :meth:`shutdown` leaves it open.
    """

    def __init__(self, registry: Registry, *, replication: bool = False) -> None:
        self.registry = registry
        self.replication = replication

    def register(self, instance: InstanceInfo) -> EurekaResponse[None]:
        def run() -> EurekaResponse[None]:
            self.registry.register(instance, replication=self.replication)
            return _NO_CONTENT

        return self._answer(run)

    def cancel(self, app: str, instance_id: str) -> EurekaResponse[None]:
        def run() -> EurekaResponse[None]:
            self.registry.cancel(app, instance_id, replication=self.replication)
            return _OK

        return self._answer(run)

    def send_heartbeat(
        self,
        app: str,
        instance_id: str,
        *,
        instance: InstanceInfo | None = None,
        status: InstanceStatus | None = None,
        last_dirty_timestamp: int | None = None,
        overridden_status: InstanceStatus | None = None,
    ) -> EurekaResponse[InstanceInfo]:
        # The heartbeat's status parameter is ignored by Eureka servers, and so here.
        if last_dirty_timestamp is None and instance is not None:
            last_dirty_timestamp = instance.last_dirty_timestamp

        def run() -> EurekaResponse[InstanceInfo]:
            result = self.registry.renew(
                app,
                instance_id,
                last_dirty_timestamp=last_dirty_timestamp,
                overridden_status=overridden_status,
                replication=self.replication,
            )
            outcome = renew_outcome(result.outcome, app, instance_id)
            if result.outcome is RenewOutcome.CONFLICT:
                # The instance the registry holds, as the HTTP body carries it.
                return EurekaResponse(outcome.status, result.instance)
            if not outcome.ok:
                raise HttpRefusal(outcome)
            return EurekaResponse(outcome.status)

        return self._answer(run)

    def status_update(
        self,
        app: str,
        instance_id: str,
        status: InstanceStatus,
        *,
        last_dirty_timestamp: int | None = None,
    ) -> EurekaResponse[None]:
        def run() -> EurekaResponse[None]:
            self.registry.update_status(
                app,
                instance_id,
                status,
                last_dirty_timestamp=last_dirty_timestamp,
                replication=self.replication,
            )
            return _OK

        return self._answer(run)

    def delete_status_override(
        self,
        app: str,
        instance_id: str,
        *,
        status: InstanceStatus | None = None,
        last_dirty_timestamp: int | None = None,
    ) -> EurekaResponse[None]:
        def run() -> EurekaResponse[None]:
            self.registry.delete_status_override(
                app,
                instance_id,
                status,
                last_dirty_timestamp=last_dirty_timestamp,
                replication=self.replication,
            )
            return _OK

        return self._answer(run)

    # Remote regions are a server-side federation feature; one registry has only its own.

    def get_applications(self, regions: Sequence[str] = ()) -> EurekaResponse[Applications]:
        return self._answer(lambda: EurekaResponse(200, self.registry.get_applications()))

    def get_delta(
        self,
        regions: Sequence[str] = (),
        *,
        index: int | None = None,
        wait_s: float | None = None,
    ) -> EurekaResponse[Applications]:
        # No watch here: the answer carries no index, so a DiscoveryClient in this process
        # polls the registry, which costs it a function call per refresh.
        def run() -> EurekaResponse[Applications]:
            if not self.registry.config.delta_enabled:
                raise HttpRefusal(DELTA_DISABLED)
            return EurekaResponse(200, self.registry.get_delta())

        return self._answer(run)

    def get_vip(self, vip: str, regions: Sequence[str] = ()) -> EurekaResponse[Applications]:
        return self._answer(lambda: EurekaResponse(200, self.registry.get_vip(vip)))

    def get_secure_vip(
        self, svip: str, regions: Sequence[str] = ()
    ) -> EurekaResponse[Applications]:
        return self._answer(lambda: EurekaResponse(200, self.registry.get_secure_vip(svip)))

    def get_application(self, app: str) -> EurekaResponse[Application]:
        return self._answer(
            lambda: _found(self.registry.get_application(app), application_not_found(app))
        )

    def get_instance(self, app: str, instance_id: str) -> EurekaResponse[InstanceInfo]:
        def run() -> EurekaResponse[InstanceInfo]:
            instance = self.registry.get_instance(app, instance_id)
            if instance is None:
                raise InstanceNotFound(app.upper(), instance_id)
            return EurekaResponse(200, instance)

        return self._answer(run)

    def get_instance_by_id(self, instance_id: str) -> EurekaResponse[InstanceInfo]:
        return self._answer(
            lambda: _found(
                self.registry.find_instance(instance_id), instance_id_not_found(instance_id)
            )
        )

    def shutdown(self) -> None:
        """Nothing to release: the registry is the caller's."""

    @staticmethod
    def _answer(run: Callable[[], EurekaResponse[T]]) -> EurekaResponse[T]:
        """``run()``, with registry errors turned into the statuses the HTTP server answers."""
        try:
            return run()
        except (EurekaError, HttpRefusal) as exc:
            # Anything else is a bug and propagates: in-process, the caller sees the traceback.
            outcome = error_outcome(exc)
            headers = {name.lower(): value for name, value in outcome.headers}
            return EurekaResponse(outcome.status, headers=headers, text=outcome.reason)


def _found(entity: T | None, missing: Outcome) -> EurekaResponse[T]:
    if entity is None:
        raise HttpRefusal(missing)
    return EurekaResponse(200, entity)
