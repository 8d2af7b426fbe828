"""The Eureka REST endpoints (SPEC section 1), written once for every web framework.

Each endpoint is a plain function of an :class:`~eureka_embed.http.messages.EndpointRequest`
to an :class:`~eureka_embed.http.messages.EndpointResponse`: it parses what it needs, calls the
registry once and chooses status, headers and body. :func:`eureka_routes` lists them by route
template and method; a framework adapter routes a request to the handler, hands it the body
(read within :attr:`Services.max_body_bytes`) when :meth:`Route.reads_body` says so, and
writes back what :func:`answer` returns. Refusals are raised (registry errors,
:class:`~eureka_embed.http.outcomes.HttpRefusal`) and turned into answers by :func:`answer`
through the one table of :mod:`eureka_embed.http.outcomes`.

Reads of a view of the registry (:attr:`Route.view_of`) answer with its watch index
(:mod:`eureka_embed.http.watches`), read before the data, so the data is never older than the
index says. An adapter asks :meth:`Route.watch_for` whether to hold a request first.

Path fields arrive percent-decoded, so ``h%3Aapp%3A8080`` and ``h:app:8080`` name the same
instance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from eureka_embed.codec import decode_instance, encode_instance
from eureka_embed.errors import InstanceNotFound, InvalidInput
from eureka_embed.http.body import decode_body
from eureka_embed.http.dashboard import CONTENT_SECURITY_POLICY, render_dashboard
from eureka_embed.http.fetch_limit import FetchLimiter
from eureka_embed.http.messages import EndpointRequest, EndpointResponse, Handler, QueryValue
from eureka_embed.http.negotiation import body_format, negotiate, response_format
from eureka_embed.http.outcomes import (
    DELTA_DISABLED,
    DONE,
    REGISTERED,
    STARTUP_COPY_RUNNING,
    WATCHES_ENDED,
    HttpRefusal,
    Outcome,
    application_not_found,
    error_outcome,
    instance_id_not_found,
    remote_region_not_ready,
    renew_outcome,
)
from eureka_embed.http.params import (
    asks_for_regions,
    is_replication,
    status_param,
    timestamp_param,
)
from eureka_embed.http.payloads import RegistryPayloads
from eureka_embed.http.probes import Readiness
from eureka_embed.http.responses import (
    bodiless,
    cached_payload,
    error_response,
    payload,
)
from eureka_embed.http.server_status import PeersStatus, ServerStatus, encode_status
from eureka_embed.http.watches import Watches, WatchRequest, watch_request
from eureka_embed.protocol import INDEX_HEADER
from eureka_embed.registry import Registry, RenewOutcome
from eureka_embed.replication.receiver import ReplicationReceiver
from eureka_embed.storage.view_index import ALL, View, app_view, vip_view

if TYPE_CHECKING:
    from eureka_embed.remote_regions import RemoteRegions

__all__ = ["Endpoints", "Route", "Services", "answer", "dashboard_route", "eureka_routes"]

_MEDIA_JSON = "application/json"
_MEDIA_HTML = "text/html; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Services:
    """What the endpoints share."""

    registry: Registry
    payloads: RegistryPayloads
    max_body_bytes: int
    #: Applies the batches peers send; shared by every base path and the metrics.
    replication: ReplicationReceiver
    #: The watch index of every view, and the holding of watching reads.
    watches: Watches
    peers_status: PeersStatus | None = None
    title: str = "eureka_embed"
    #: Whether the node is ready (``GET status`` reports it as ``isHealthy``); None: always.
    readiness: Readiness | None = None
    #: Limits full and delta fetches when given (:mod:`eureka_embed.http.fetch_limit`).
    fetch_limiter: FetchLimiter | None = None
    #: What serves the app, for the dashboard: ``waitress``, ``uvicorn``, ``embedded WSGI``...
    server_kind: str = "embedded"
    #: The regions ``?regions=`` may add to reads (:mod:`eureka_embed.remote_regions`).
    remote_regions: RemoteRegions | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """The handlers of one route template, by upper-case method.

    ``template`` uses ``{field}`` placeholders (Falcon's and Starlette's syntax). In
    :func:`eureka_routes` it is relative to a base path such as ``/eureka``;
    :attr:`eureka_embed.http.api.EurekaApi.routes` holds full paths.
    """

    template: str
    handlers: Mapping[str, Handler]
    #: Methods whose handler reads ``EndpointRequest.body``; the others get an empty one.
    body_methods: frozenset[str] = field(default_factory=frozenset)
    #: The view its ``GET`` shows, for routes that can be watched.
    view_of: Callable[[EndpointRequest], View] | None = None
    #: Methods whose handler does no I/O (in-memory reads and renewals) except after
    #: :func:`eureka_embed.blocking.may_block`: an event-loop adapter may run them inline.
    inline_methods: frozenset[str] = field(default_factory=frozenset)

    def reads_body(self, method: str) -> bool:
        return method in self.body_methods

    def watch_for(self, method: str, request: EndpointRequest) -> WatchRequest | None:
        """The watch ``request`` asks for (``?index=`` on a watchable ``GET``), else None.

        The adapter holds the request with :class:`~eureka_embed.http.watches.Watches` before
        calling the handler.

        :raises InvalidInput: a malformed ``index`` or ``wait``; answer it with
            :func:`~eureka_embed.http.responses.error_response` (a 400 with the reason).
        """
        if self.view_of is None or method != "GET" or asks_for_regions(request):
            return None
        return watch_request(request, self.view_of(request))


def answer(handler: Handler, request: EndpointRequest) -> EndpointResponse:
    """``handler(request)``, with whatever it raises turned into the answer it deserves."""
    try:
        return handler(request)
    except Exception as exc:
        return error_response(request, exc)


class Endpoints:
    """Every endpoint as a method; :func:`eureka_routes` maps them to routes."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._registry = services.registry
        self._payloads = services.payloads
        self._max_body_bytes = services.max_body_bytes
        self._watches = services.watches

    def _regions(self, req: EndpointRequest, *, refuse_unready: bool = False) -> tuple[str, ...]:
        """The followed regions ``?regions=`` names; unknown names are ignored (Netflix's
        registry skips a region it has no registry of).

        ``refuse_unready`` (full and delta reads): 403 while a followed region was never
        fetched, for any read that names regions, as Netflix refuses them.
        """
        remote = self._services.remote_regions
        if remote is None:
            return ()
        if refuse_unready and asks_for_regions(req):
            region = remote.not_ready()
            if region is not None:
                raise HttpRefusal(remote_region_not_ready(region))
        return remote.known(req.query_value("regions"))

    def _view_index(self, req: EndpointRequest, view: View) -> int:
        """The index of ``view``, read before its data; a watch of a stopping server is a 503.

        A watch answered at the stop with its unchanged index would read to the client as
        "nothing new" (or as a server past its watcher cap) and keep it here a poll interval
        longer; a 503 sends Eureka clients to their next server at once.
        """
        if self._watches.closed and req.query_value("index") is not None:
            raise HttpRefusal(WATCHES_ENDED)
        return self._watches.index(view)

    # -- reads of cached payloads

    def get_apps(self, req: EndpointRequest) -> EndpointResponse:
        """``GET apps``: the full registry, with ``?regions=`` the remote regions' too."""
        self._refuse_while_copying()
        index = self._view_index(req, ALL)
        variant = negotiate(req)
        full = self._payloads.full(variant, self._regions(req, refuse_unready=True))
        self._admit(req, full=True)
        return _indexed(cached_payload(req, full, variant), index, req)

    def _refuse_while_copying(self) -> None:
        readiness = self._services.readiness
        if readiness is not None and readiness.copying:
            raise HttpRefusal(STARTUP_COPY_RUNNING)

    def _admit(self, req: EndpointRequest, *, full: bool) -> None:
        """The fetch limit, once the payload is at hand: an event-loop adapter that runs a read
        inline and meets a cache miss (:func:`~eureka_embed.blocking.may_block`) runs it again
        in a thread, and a fetch must spend its token once."""
        if self._services.fetch_limiter is not None:
            self._services.fetch_limiter.admit(req, full=full)

    @property
    def serves_deltas(self) -> bool:
        """Whether ``GET apps/delta`` answers deltas (else 403, as Eureka's setting says)."""
        return self._registry.config.delta_enabled

    def get_delta(self, req: EndpointRequest) -> EndpointResponse:
        """``GET apps/delta``: recent changes; 403 when the server has deltas turned off.

        With ``?index=N`` (a watch, or a client that read index N before), the changes after
        N only, where the store still knows them: the client holds everything up to N, and
        the hashcode still checks the whole registry it then holds.
        """
        if not self.serves_deltas:
            raise HttpRefusal(DELTA_DISABLED)
        self._refuse_while_copying()
        index = self._view_index(req, ALL)
        watch = None if asks_for_regions(req) else watch_request(req, ALL)
        variant = negotiate(req)
        delta = self._payloads.delta(
            variant,
            after_index=None if watch is None else watch.after_index,
            regions=self._regions(req, refuse_unready=True),
        )
        self._admit(req, full=False)
        return _indexed(cached_payload(req, delta, variant), index, req)

    def get_app(self, req: EndpointRequest) -> EndpointResponse:
        """``GET apps/{app}``: one application."""
        app = req.params["app"]
        index = self._view_index(req, app_view(app))
        variant = negotiate(req)
        cached = self._payloads.application(app, variant)
        if cached is None:
            # Indexed too: a client can watch for the application to appear.
            raise HttpRefusal(_indexed_outcome(application_not_found(app), index))
        return _indexed(cached_payload(req, cached, variant), index)

    def get_vip(self, req: EndpointRequest) -> EndpointResponse:
        """``GET vips/{vip}``; an unknown VIP is an empty list, not a 404."""
        return self._vip(req, secure=False)

    def get_svip(self, req: EndpointRequest) -> EndpointResponse:
        """``GET svips/{vip}``."""
        return self._vip(req, secure=True)

    def _vip(self, req: EndpointRequest, *, secure: bool) -> EndpointResponse:
        vip = req.params["vip"]
        index = self._view_index(req, vip_view(vip, secure=secure))
        variant = negotiate(req)
        cached = self._payloads.vip(vip, variant, secure=secure, regions=self._regions(req))
        return _indexed(cached_payload(req, cached, variant), index, req)

    # -- single instances

    def get_instance(self, req: EndpointRequest) -> EndpointResponse:
        """``GET apps/{app}/{instance_id}``."""
        app, instance_id = req.params["app"], req.params["instance_id"]
        index = self._view_index(req, app_view(app))
        instance = self._registry.get_instance(app, instance_id)
        if instance is None:
            raise HttpRefusal(_indexed_outcome(_instance_not_found(app, instance_id), index))
        variant = negotiate(req)
        body = encode_instance(instance, variant.fmt, compact=variant.compact)
        return _indexed(payload(body, variant), index)

    def get_instance_by_id(self, req: EndpointRequest) -> EndpointResponse:
        """``GET instances/{instance_id}``: under whatever application holds it."""
        instance_id = req.params["instance_id"]
        instance = self._registry.find_instance(instance_id)
        if instance is None:
            raise HttpRefusal(instance_id_not_found(instance_id))
        variant = negotiate(req)
        return payload(encode_instance(instance, variant.fmt, compact=variant.compact), variant)

    # -- writes

    def register(self, req: EndpointRequest) -> EndpointResponse:
        """``POST apps/{app}``: 204, typed as the client asked (Jersey 1 does so)."""
        app = req.params["app"]
        body = self._body(req, "expected an instance in JSON or XML")
        fmt = body_format(req.header("content-type"), body)
        instance = decode_instance(body, fmt, now_ms=self._registry.clock.now_ms())
        self._registry.register(instance, replication=is_replication(req), expected_app=app)
        return bodiless(REGISTERED, response_format(req))

    def heartbeat(self, req: EndpointRequest) -> EndpointResponse:
        """``PUT apps/{app}/{instance_id}``: the hot path.

        Eureka ignores the ``status`` parameter clients send, and so do we.
        """
        app, instance_id = req.params["app"], req.params["instance_id"]
        result = self._registry.renew(
            app,
            instance_id,
            last_dirty_timestamp=timestamp_param(req, "lastDirtyTimestamp"),
            overridden_status=status_param(req, "overriddenstatus", required=False),
            replication=is_replication(req),
        )
        if result.outcome is RenewOutcome.OK:  # nearly every heartbeat: the shortest way
            return bodiless(DONE, response_format(req))
        outcome = renew_outcome(result.outcome, app, instance_id)
        if result.outcome is RenewOutcome.CONFLICT and result.instance is not None:
            # The peer holds an older copy: it adopts the one we send back.
            variant = negotiate(req)
            body = encode_instance(result.instance, variant.fmt, compact=variant.compact)
            return payload(body, variant, status=outcome.status)
        if not outcome.ok:
            raise HttpRefusal(outcome)
        return bodiless(outcome.status, response_format(req))

    def cancel(self, req: EndpointRequest) -> EndpointResponse:
        """``DELETE apps/{app}/{instance_id}``."""
        self._registry.cancel(
            req.params["app"], req.params["instance_id"], replication=is_replication(req)
        )
        return bodiless(DONE, response_format(req))

    def put_status(self, req: EndpointRequest) -> EndpointResponse:
        """``PUT apps/{app}/{instance_id}/status?value=``: set the status override."""
        status = status_param(req, "value", required=True)
        assert status is not None  # required=True raised otherwise
        self._registry.update_status(
            req.params["app"],
            req.params["instance_id"],
            status,
            last_dirty_timestamp=timestamp_param(req, "lastDirtyTimestamp"),
            replication=is_replication(req),
        )
        return bodiless(DONE, response_format(req))

    def delete_status(self, req: EndpointRequest) -> EndpointResponse:
        """``DELETE apps/{app}/{instance_id}/status``: remove the status override."""
        self._registry.delete_status_override(
            req.params["app"],
            req.params["instance_id"],
            status_param(req, "value", required=False),
            last_dirty_timestamp=timestamp_param(req, "lastDirtyTimestamp"),
            replication=is_replication(req),
        )
        return bodiless(DONE, response_format(req))

    def put_metadata(self, req: EndpointRequest) -> EndpointResponse:
        """``PUT apps/{app}/{instance_id}/metadata?k=v&...``: merge metadata."""
        self._registry.update_metadata(
            req.params["app"],
            req.params["instance_id"],
            _metadata_params(req.query),
            replication=is_replication(req),
        )
        return bodiless(DONE, response_format(req))

    def replication_batch(self, req: EndpointRequest) -> EndpointResponse:
        """``POST peerreplication/batch/``: writes a peer forwarded, one result per item.

        Only the batch as a whole can fail (400 when it is not a batch, 413 above the body
        limit, 415 for XML or an unreadable encoding); each item gets its own status in the
        answer. Eureka peers speak JSON here, and so do we.
        """
        if "xml" in (req.header("content-type") or "").lower():
            raise HttpRefusal(
                Outcome(415, 'replication batches are JSON: {"replicationList": [...]}')
            )
        body = self._body(req, 'expected {"replicationList": [...]}')
        return EndpointResponse(200, _MEDIA_JSON, self._services.replication.handle(body))

    def _body(self, req: EndpointRequest, expected: str) -> bytes:
        body = decode_body(req.body, req.header("content-encoding"), self._max_body_bytes)
        if not body.strip():
            raise InvalidInput(f"request body is empty: {expected}")
        return body

    # -- the server itself

    def server_status(self, req: EndpointRequest) -> EndpointResponse:
        """``GET status``: Eureka's StatusInfo, then uptime, self-preservation, renewals, peers
        and instance counts."""
        readiness = self._services.readiness
        status = ServerStatus.collect(
            self._registry,
            self._services.peers_status,
            not_ready=None if readiness is None else readiness.reason(),
        )
        fmt = response_format(req)
        return EndpointResponse(
            200,
            fmt.content_type,
            encode_status(status, fmt),
            (("Vary", "Accept"), ("Cache-Control", "no-store")),
        )

    def dashboard(self, req: EndpointRequest) -> EndpointResponse:
        """``GET /``: the HTML status page."""
        page = render_dashboard(title=self._services.title)
        return EndpointResponse(
            200,
            _MEDIA_HTML,
            page.encode(),
            (
                ("Cache-Control", "no-store"),
                ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
                ("X-Content-Type-Options", "nosniff"),
            ),
        )


def _indexed(
    response: EndpointResponse, index: int, req: EndpointRequest | None = None
) -> EndpointResponse:
    """``response`` with its watch index; none for a read that asks for regions: its answer
    also moves with the remote copies, which the index does not count, so it is not a watch
    (clients poll it, as they poll Netflix's servers)."""
    if req is not None and asks_for_regions(req):
        return response
    return response._replace(headers=(*response.headers, (INDEX_HEADER, str(index))))


def _indexed_outcome(outcome: Outcome, index: int) -> Outcome:
    return replace(outcome, headers=(*outcome.headers, (INDEX_HEADER, str(index))))


def _instance_not_found(app: str, instance_id: str) -> Outcome:
    # The registry's own refusal (and reason) for an unknown instance, as the table maps it.
    return error_outcome(InstanceNotFound(app.upper(), instance_id))


def _all_view(req: EndpointRequest) -> View:
    return ALL


def _app_view(req: EndpointRequest) -> View:
    return app_view(req.params["app"])


def _vip_view(req: EndpointRequest) -> View:
    return vip_view(req.params["vip"])


def _svip_view(req: EndpointRequest) -> View:
    return vip_view(req.params["vip"], secure=True)


def _metadata_params(params: Mapping[str, QueryValue]) -> dict[str, str]:
    """Query parameters as metadata; a repeated key keeps its first value, as in Eureka.

    The registry refuses what a registration could not carry (keys that are not XML names,
    characters XML cannot hold), so the instance stays servable in both formats.
    """
    return {key: raw if isinstance(raw, str) else _first(raw) for key, raw in params.items()}


def _first(values: Sequence[str]) -> str:
    return values[0] if values else ""


def eureka_routes(endpoints: Endpoints) -> list[Route]:
    """Each Eureka endpoint by route template (below a base path) and method."""
    e = endpoints
    post = frozenset({"POST"})
    # Reads come from the payload cache or the store's in-memory records; a heartbeat renews
    # in memory (SQL stores flush renewals in batches from their own thread).
    get, get_put = frozenset({"GET"}), frozenset({"GET", "PUT"})
    return [
        Route("apps", {"GET": e.get_apps}, view_of=_all_view, inline_methods=get),
        # With deltas off there is nothing to watch: the 403 comes at once, not after the wait.
        Route(
            "apps/delta",
            {"GET": e.get_delta},
            view_of=_all_view if e.serves_deltas else None,
            inline_methods=get,
        ),
        Route(
            "apps/{app}",
            {"GET": e.get_app, "POST": e.register},
            post,
            _app_view,
            inline_methods=get,
        ),
        Route(
            "apps/{app}/{instance_id}",
            {"GET": e.get_instance, "PUT": e.heartbeat, "DELETE": e.cancel},
            view_of=_app_view,
            inline_methods=get_put,
        ),
        Route("apps/{app}/{instance_id}/status", {"PUT": e.put_status, "DELETE": e.delete_status}),
        Route("apps/{app}/{instance_id}/metadata", {"PUT": e.put_metadata}),
        Route("instances/{instance_id}", {"GET": e.get_instance_by_id}, inline_methods=get),
        Route("vips/{vip}", {"GET": e.get_vip}, view_of=_vip_view, inline_methods=get),
        Route("svips/{vip}", {"GET": e.get_svip}, view_of=_svip_view, inline_methods=get),
        Route("status", {"GET": e.server_status}),
        Route("peerreplication/batch", {"POST": e.replication_batch}, post),
    ]


def dashboard_route(endpoints: Endpoints) -> Route:
    """The HTML status page, at the root of the app."""
    return Route("/", {"GET": endpoints.dashboard})
