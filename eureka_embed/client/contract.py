"""The one interface every Eureka client in this package implements, and the base of its layers.

Eureka's REST operations (SPEC section 6), each answering an
:class:`~eureka_embed.client.response.EurekaResponse`. The transport client speaks them over
HTTP, the in-process client straight to a :class:`~eureka_embed.registry.Registry`, and each
layer (sessioned, retrying, redirecting, metrics) is a client wrapping another client:
:class:`ClientLayer` turns every operation into one call of :meth:`ClientLayer._execute`, so a
layer implements its policy once instead of once per operation.

:raises ~eureka_embed.errors.TransportError: from every operation, when no usable answer came.
    An answer with an error status is returned, not raised.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TypeVar

from eureka_embed.client.response import EurekaResponse, RequestKind
from eureka_embed.model import Application, Applications, InstanceInfo, InstanceStatus

__all__ = ["ClientLayer", "EurekaHttpClient", "Operation"]

T = TypeVar("T")


class EurekaHttpClient(ABC):
    """Eureka's client operations. Use as a context manager, or call :meth:`shutdown`."""

    @abstractmethod
    def register(self, instance: InstanceInfo) -> EurekaResponse[None]:
        """POST apps/{APP}: 204 when registered."""

    @abstractmethod
    def cancel(self, app: str, instance_id: str) -> EurekaResponse[None]:
        """DELETE apps/{APP}/{id}: 200, or 404 when the server does not know the instance."""

    @abstractmethod
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
        """PUT apps/{APP}/{id}: 200 renewed; 404 register again; 409 carries the server's copy.

        ``instance`` supplies ``status`` and ``last_dirty_timestamp`` when they are not given.
        ``overridden_status`` is only ever sent when given (peers send it; clients do not).
        """

    @abstractmethod
    def status_update(
        self,
        app: str,
        instance_id: str,
        status: InstanceStatus,
        *,
        last_dirty_timestamp: int | None = None,
    ) -> EurekaResponse[None]:
        """PUT apps/{APP}/{id}/status?value=: sets a status override."""

    @abstractmethod
    def delete_status_override(
        self,
        app: str,
        instance_id: str,
        *,
        status: InstanceStatus | None = None,
        last_dirty_timestamp: int | None = None,
    ) -> EurekaResponse[None]:
        """DELETE apps/{APP}/{id}/status: the status becomes ``status`` (UNKNOWN if omitted)."""

    @abstractmethod
    def get_applications(self, regions: Sequence[str] = ()) -> EurekaResponse[Applications]:
        """GET apps/: the full registry."""

    @abstractmethod
    def get_delta(
        self,
        regions: Sequence[str] = (),
        *,
        index: int | None = None,
        wait_s: float | None = None,
    ) -> EurekaResponse[Applications]:
        """GET apps/delta: recent changes, with the full registry's hashcode.

        With ``index`` (the :attr:`~EurekaResponse.index` of an earlier answer) it is a watch:
        a server that offers watches holds the answer until its index moves past ``index`` or
        ``wait_s`` (default the server's, 30 s) ends; a plain Eureka server ignores both and
        answers at once. A client that cannot watch answers at once too, with no index.
        """

    @abstractmethod
    def get_vip(self, vip: str, regions: Sequence[str] = ()) -> EurekaResponse[Applications]:
        """GET vips/{vip}."""

    @abstractmethod
    def get_secure_vip(
        self, svip: str, regions: Sequence[str] = ()
    ) -> EurekaResponse[Applications]:
        """GET svips/{svip}."""

    @abstractmethod
    def get_application(self, app: str) -> EurekaResponse[Application]:
        """GET apps/{APP}: 404 when no instance is registered under it."""

    @abstractmethod
    def get_instance(self, app: str, instance_id: str) -> EurekaResponse[InstanceInfo]:
        """GET apps/{APP}/{id}."""

    @abstractmethod
    def get_instance_by_id(self, instance_id: str) -> EurekaResponse[InstanceInfo]:
        """GET instances/{id}: the instance under whichever application holds it."""

    @abstractmethod
    def shutdown(self) -> None:
        """Release connections and whatever else this client owns. Idempotent."""

    def __enter__(self) -> EurekaHttpClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()


Operation = Callable[[EurekaHttpClient], EurekaResponse[T]]
"""One operation with its arguments bound, ready to run on whichever client a layer picks."""


class ClientLayer(EurekaHttpClient):
    """A client that wraps other clients: every operation goes through :meth:`_execute`.

    ``_execute`` receives the operation's kind and the operation itself as a function of the
    client to run it on; a layer picks (or makes) that client, runs it, and applies its policy
    to the outcome (retry, follow a redirect, measure, ...).
    """

    @abstractmethod
    def _execute(self, kind: RequestKind, operation: Operation[T]) -> EurekaResponse[T]: ...

    def register(self, instance: InstanceInfo) -> EurekaResponse[None]:
        return self._execute(RequestKind.REGISTER, lambda c: c.register(instance))

    def cancel(self, app: str, instance_id: str) -> EurekaResponse[None]:
        return self._execute(RequestKind.CANCEL, lambda c: c.cancel(app, instance_id))

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
        return self._execute(
            RequestKind.HEARTBEAT,
            lambda c: c.send_heartbeat(
                app,
                instance_id,
                instance=instance,
                status=status,
                last_dirty_timestamp=last_dirty_timestamp,
                overridden_status=overridden_status,
            ),
        )

    def status_update(
        self,
        app: str,
        instance_id: str,
        status: InstanceStatus,
        *,
        last_dirty_timestamp: int | None = None,
    ) -> EurekaResponse[None]:
        return self._execute(
            RequestKind.STATUS_UPDATE,
            lambda c: c.status_update(
                app, instance_id, status, last_dirty_timestamp=last_dirty_timestamp
            ),
        )

    def delete_status_override(
        self,
        app: str,
        instance_id: str,
        *,
        status: InstanceStatus | None = None,
        last_dirty_timestamp: int | None = None,
    ) -> EurekaResponse[None]:
        return self._execute(
            RequestKind.DELETE_STATUS_OVERRIDE,
            lambda c: c.delete_status_override(
                app, instance_id, status=status, last_dirty_timestamp=last_dirty_timestamp
            ),
        )

    def get_applications(self, regions: Sequence[str] = ()) -> EurekaResponse[Applications]:
        return self._execute(RequestKind.GET_APPLICATIONS, lambda c: c.get_applications(regions))

    def get_delta(
        self,
        regions: Sequence[str] = (),
        *,
        index: int | None = None,
        wait_s: float | None = None,
    ) -> EurekaResponse[Applications]:
        kind = RequestKind.GET_DELTA if index is None else RequestKind.GET_DELTA_WATCH
        return self._execute(kind, lambda c: c.get_delta(regions, index=index, wait_s=wait_s))

    def get_vip(self, vip: str, regions: Sequence[str] = ()) -> EurekaResponse[Applications]:
        return self._execute(RequestKind.GET_VIP, lambda c: c.get_vip(vip, regions))

    def get_secure_vip(
        self, svip: str, regions: Sequence[str] = ()
    ) -> EurekaResponse[Applications]:
        return self._execute(RequestKind.GET_SECURE_VIP, lambda c: c.get_secure_vip(svip, regions))

    def get_application(self, app: str) -> EurekaResponse[Application]:
        return self._execute(RequestKind.GET_APPLICATION, lambda c: c.get_application(app))

    def get_instance(self, app: str, instance_id: str) -> EurekaResponse[InstanceInfo]:
        return self._execute(RequestKind.GET_INSTANCE, lambda c: c.get_instance(app, instance_id))

    def get_instance_by_id(self, instance_id: str) -> EurekaResponse[InstanceInfo]:
        return self._execute(RequestKind.GET_INSTANCE, lambda c: c.get_instance_by_id(instance_id))
