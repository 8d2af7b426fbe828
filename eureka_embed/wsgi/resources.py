"""The Eureka REST resources (SPEC section 1): thin responders over Registry and codec.

A responder reads the request (:mod:`.request_input`), calls the registry once and writes the
answer (:mod:`.responses`). Domain errors are raised, not caught: the handlers in
:mod:`.errors` turn them into HTTP. Path fields arrive percent-decoded (the WSGI server decodes
PATH_INFO), so ``h%3Aapp%3A8080`` and ``h:app:8080`` name the same instance. An id holding a
slash cannot be addressed: ``%2F`` is decoded before routing, as by every WSGI server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import falcon

from eureka_embed.codec import decode_instance, encode_instance
from eureka_embed.errors import InstanceNotFound, InvalidInput
from eureka_embed.registry import Registry, RenewOutcome
from eureka_embed.replication.receiver import ReplicationReceiver
from eureka_embed.wsgi.dashboard import CONTENT_SECURITY_POLICY, render_dashboard
from eureka_embed.wsgi.negotiation import body_format, negotiate, response_format
from eureka_embed.wsgi.payloads import RegistryPayloads
from eureka_embed.wsgi.request_input import (
    is_replication,
    read_body,
    status_param,
    timestamp_param,
)
from eureka_embed.wsgi.responses import send_bytes, send_cached, send_empty
from eureka_embed.wsgi.server_status import PeersStatus, ServerStatus, encode_status

__all__ = [
    "AppResource",
    "AppsResource",
    "DashboardResource",
    "DeltaResource",
    "InstanceByIdResource",
    "InstanceResource",
    "MetadataResource",
    "PeerReplicationResource",
    "ServerStatusResource",
    "Services",
    "StatusOverrideResource",
    "VipResource",
]


@dataclass(frozen=True, slots=True)
class Services:
    """What the resources share."""

    registry: Registry
    payloads: RegistryPayloads
    max_body_bytes: int
    #: Applies the batches peers send; shared by every base path and the metrics.
    replication: ReplicationReceiver
    peers_status: PeersStatus | None = None
    title: str = "eureka_embed"


class AppsResource:
    """``GET apps``: the full registry (``?regions=`` is accepted and ignored)."""

    def __init__(self, services: Services) -> None:
        self._payloads = services.payloads

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        variant = negotiate(req)
        send_cached(req, resp, self._payloads.full(variant), variant)


class DeltaResource:
    """``GET apps/delta``: recent changes; 403 when the server has deltas turned off."""

    def __init__(self, services: Services) -> None:
        self._payloads = services.payloads
        self._enabled = services.registry.config.delta_enabled

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not self._enabled:
            raise falcon.HTTPForbidden(
                description="this server does not serve deltas; fetch the full registry"
            )
        variant = negotiate(req)
        send_cached(req, resp, self._payloads.delta(variant), variant)


class AppResource:
    """``GET apps/{APP}`` (one application) and ``POST apps/{APP}`` (register)."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def on_get(self, req: falcon.Request, resp: falcon.Response, app: str) -> None:
        variant = negotiate(req)
        payload = self._services.payloads.application(app, variant)
        if payload is None:
            raise falcon.HTTPNotFound(
                description=f"no instances registered under application {app.upper()!r}"
            )
        send_cached(req, resp, payload, variant)

    def on_post(self, req: falcon.Request, resp: falcon.Response, app: str) -> None:
        registry = self._services.registry
        body = read_body(req, self._services.max_body_bytes)
        if not body.strip():
            raise InvalidInput("request body is empty: expected an instance in JSON or XML")
        fmt = body_format(req.content_type, body)
        instance = decode_instance(body, fmt, now_ms=registry.clock.now_ms())
        registry.register(instance, replication=is_replication(req), expected_app=app)
        resp.status = falcon.HTTP_204


class InstanceResource:
    """``GET``, ``PUT`` (heartbeat) and ``DELETE`` (cancel) on ``apps/{APP}/{id}``."""

    def __init__(self, services: Services) -> None:
        self._registry = services.registry

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, app: str, instance_id: str
    ) -> None:
        instance = self._registry.get_instance(app, instance_id)
        if instance is None:
            raise InstanceNotFound(app.upper(), instance_id)
        variant = negotiate(req)
        send_bytes(resp, encode_instance(instance, variant.fmt, compact=variant.compact), variant)

    def on_put(
        self, req: falcon.Request, resp: falcon.Response, app: str, instance_id: str
    ) -> None:
        # The hot path. Eureka ignores the ``status`` parameter clients send, and so do we.
        replication = is_replication(req)
        result = self._registry.renew(
            app,
            instance_id,
            last_dirty_timestamp=timestamp_param(req, "lastDirtyTimestamp"),
            overridden_status=status_param(req, "overriddenstatus", required=False),
            replication=replication,
        )
        if result.outcome is RenewOutcome.OK:
            send_empty(resp, response_format(req))
        elif result.outcome is RenewOutcome.CONFLICT and result.instance is not None:
            # The peer holds an older copy: it adopts the one we send back.
            variant = negotiate(req)
            body = encode_instance(result.instance, variant.fmt, compact=variant.compact)
            send_bytes(resp, body, variant, status=409)
        else:
            raise falcon.HTTPNotFound(
                description=(
                    f"instance {instance_id!r} of {app.upper()!r} must register (again): it is "
                    "unknown, its status is UNKNOWN, or this heartbeat carries a newer "
                    "lastDirtyTimestamp than the registry holds"
                )
            )

    def on_delete(
        self, req: falcon.Request, resp: falcon.Response, app: str, instance_id: str
    ) -> None:
        self._registry.cancel(app, instance_id, replication=is_replication(req))
        send_empty(resp, response_format(req))


class StatusOverrideResource:
    """``PUT`` (set) and ``DELETE`` (remove) the status override on ``apps/{APP}/{id}/status``."""

    def __init__(self, services: Services) -> None:
        self._registry = services.registry

    def on_put(
        self, req: falcon.Request, resp: falcon.Response, app: str, instance_id: str
    ) -> None:
        status = status_param(req, "value", required=True)
        assert status is not None  # required=True raised otherwise
        self._registry.update_status(
            app,
            instance_id,
            status,
            last_dirty_timestamp=timestamp_param(req, "lastDirtyTimestamp"),
            replication=is_replication(req),
        )
        send_empty(resp, response_format(req))

    def on_delete(
        self, req: falcon.Request, resp: falcon.Response, app: str, instance_id: str
    ) -> None:
        self._registry.delete_status_override(
            app,
            instance_id,
            status_param(req, "value", required=False),
            last_dirty_timestamp=timestamp_param(req, "lastDirtyTimestamp"),
            replication=is_replication(req),
        )
        send_empty(resp, response_format(req))


class MetadataResource:
    """``PUT apps/{APP}/{id}/metadata?k=v&...``: merge metadata (a re-registration)."""

    def __init__(self, services: Services) -> None:
        self._registry = services.registry

    def on_put(
        self, req: falcon.Request, resp: falcon.Response, app: str, instance_id: str
    ) -> None:
        self._registry.update_metadata(
            app, instance_id, _metadata_params(req.params), replication=is_replication(req)
        )
        send_empty(resp, response_format(req))


def _metadata_params(params: Mapping[str, str | list[str]]) -> dict[str, str]:
    """Query parameters as metadata; a repeated key keeps its first value, as in Eureka.

    The registry refuses what a registration could not carry (keys that are not XML names,
    characters XML cannot hold), so the instance stays servable in both formats.
    """
    return {key: raw[0] if isinstance(raw, list) else raw for key, raw in params.items()}


class PeerReplicationResource:
    """``POST peerreplication/batch/``: writes a peer forwarded, one result per item.

    Only the batch as a whole can fail (400 when it is not a batch, 413 above the body limit);
    each item gets its own status in the answer. Eureka peers speak JSON here, and so do we.
    """

    def __init__(self, services: Services) -> None:
        self._receiver = services.replication
        self._max_body_bytes = services.max_body_bytes

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        if "xml" in (req.content_type or "").lower():
            raise falcon.HTTPUnsupportedMediaType(
                description='replication batches are JSON: {"replicationList": [...]}'
            )
        body = read_body(req, self._max_body_bytes)
        if not body.strip():
            raise InvalidInput('request body is empty: expected {"replicationList": [...]}')
        resp.status = falcon.HTTP_200
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self._receiver.handle(body)


class InstanceByIdResource:
    """``GET instances/{id}``: an instance under whatever application holds it."""

    def __init__(self, services: Services) -> None:
        self._registry = services.registry

    def on_get(self, req: falcon.Request, resp: falcon.Response, instance_id: str) -> None:
        instance = self._registry.find_instance(instance_id)
        if instance is None:
            raise falcon.HTTPNotFound(description=f"no instance {instance_id!r} is registered")
        variant = negotiate(req)
        send_bytes(resp, encode_instance(instance, variant.fmt, compact=variant.compact), variant)


class VipResource:
    """``GET vips/{vip}`` or ``GET svips/{svip}``; an unknown VIP is an empty list, not a 404."""

    def __init__(self, services: Services, *, secure: bool) -> None:
        self._payloads = services.payloads
        self._secure = secure

    def on_get(self, req: falcon.Request, resp: falcon.Response, vip: str) -> None:
        variant = negotiate(req)
        send_cached(req, resp, self._payloads.vip(vip, variant, secure=self._secure), variant)


class ServerStatusResource:
    """``GET status``: uptime, self-preservation, renewals, peers and instance counts."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        status = ServerStatus.collect(self._services.registry, self._services.peers_status)
        fmt = response_format(req)
        resp.content_type = fmt.content_type
        resp.set_header("Vary", "Accept")
        resp.cache_control = ["no-store"]
        resp.data = encode_status(status, fmt)


class DashboardResource:
    """``GET /``: the HTML status page."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        status = ServerStatus.collect(self._services.registry, self._services.peers_status)
        resp.content_type = falcon.MEDIA_HTML
        resp.cache_control = ["no-store"]
        resp.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.text = render_dashboard(status, title=self._services.title)
