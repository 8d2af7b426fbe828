"""What the dashboard page loads: one compact JSON document, and the operator's actions.

``GET /dashboard/data`` answers :func:`dashboard_data`: general information, the peers and
remote regions, the chart's samples, the recent leases, and every instance as one short array
(the names of its fields are sent once, in ``columns``), so 10,000 instances fit well below a
megabyte once gzipped. It is watchable like ``GET apps`` (``?index=N&wait=30s``,
:mod:`.watches`): the page holds one such read open and redraws when it returns, which is how a
change shows within a second.

``POST /dashboard/actions`` takes ``{"action": ..., "app": ..., "id": ...}`` and makes the same
registry call as the Eureka endpoint would (so it is replicated the same way). It needs the
``admin`` role when auth is on (no rule of :mod:`eureka_embed.auth.guard` names it, so the guard
closes it to everyone else), and refuses cross-site requests: it needs the
:data:`ACTION_HEADER` (a browser sends a custom header across sites only after a CORS preflight,
which this server never grants) and, when the browser says where the request comes from
(``Origin``, ``Sec-Fetch-Site``), the page's own origin.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from typing import Any, Final

import orjson

import eureka_embed
from eureka_embed.errors import InvalidInput
from eureka_embed.http.dashboard_history import DashboardHistory
from eureka_embed.http.endpoints import Route, Services
from eureka_embed.http.messages import EndpointRequest, EndpointResponse
from eureka_embed.http.negotiation import accepts_gzip, gzip_bytes
from eureka_embed.http.outcomes import WATCHES_ENDED, HttpRefusal, Outcome
from eureka_embed.http.responses import error_response, refusal
from eureka_embed.http.server_status import ServerStatus
from eureka_embed.model import InstanceInfo, InstanceStatus
from eureka_embed.protocol import INDEX_HEADER
from eureka_embed.storage.base import LeaseRecord
from eureka_embed.storage.view_index import ALL, View

__all__ = [
    "ACTIONS",
    "ACTIONS_PATH",
    "ACTION_HEADER",
    "COLUMNS",
    "DATA_PATH",
    "DashboardData",
    "dashboard_data",
    "safe_link",
]

DATA_PATH: Final = "/dashboard/data"
ACTIONS_PATH: Final = "/dashboard/actions"
#: The header the page sends with every action (any value): a cross-site form cannot.
ACTION_HEADER: Final = "X-Eureka-Dashboard"
ACTIONS: Final = ("out_of_service", "in_service", "remove_override", "deregister")

#: The fields of each row of ``instances``, in order.
COLUMNS: Final = (
    "app",
    "id",
    "host",
    "ip",
    "port",
    "securePort",
    "status",
    "override",
    "zone",
    "registeredAt",
    "lastRenewalAt",
    "statusPage",
    "healthCheck",
    "homePage",
    "metadata",
)

_JSON: Final = "application/json"
_NO_STORE: Final = ("Cache-Control", "no-store")

CanAct = Callable[[EndpointRequest], bool]
"""Whether the sender of a request may take actions (the ``admin`` role, or auth off)."""


def safe_link(url: str | None) -> str | None:
    """``url`` when it is an http(s) URL; anything else (javascript:, data:) is not linked."""
    if url is None:
        return None
    stripped = url.strip()
    if stripped.lower().startswith(("http://", "https://")):
        return stripped
    return None


def _zone(instance: InstanceInfo) -> str:
    """Eureka's zone of an instance: AWS's availability zone, else the ``zone`` metadata."""
    return instance.data_center_info.metadata.get("availability-zone") or instance.metadata.get(
        "zone", ""
    )


def _row(record: LeaseRecord) -> list[Any]:
    # The live renewal time: the instance's own leaseInfo is as of its last change.
    instance = record.instance
    override = record.override
    return [
        instance.app,
        instance.instance_id,
        instance.host_name,
        instance.ip_addr,
        instance.port.port if instance.port.enabled else 0,
        instance.secure_port.port if instance.secure_port.enabled else 0,
        instance.status.value,
        "" if override is None or override is InstanceStatus.UNKNOWN else override.value,
        _zone(instance),
        instance.lease_info.registration_timestamp,
        record.last_renewal_ms,
        safe_link(instance.status_page_url),
        safe_link(instance.secure_health_check_url or instance.health_check_url),
        safe_link(instance.home_page_url),
        dict(instance.metadata) if instance.metadata else 0,
    ]


def _memory_bytes() -> int | None:
    """The resident memory of this process, where the system tells (Linux); else None."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _store_kind(services: Services) -> str:
    store = services.registry.store
    engine = getattr(store, "engine", None)
    dialect = getattr(getattr(engine, "dialect", None), "name", None)
    return f"{type(store).__name__} ({dialect})" if dialect else type(store).__name__


def dashboard_data(
    services: Services, history: DashboardHistory, *, can_act: bool
) -> dict[str, Any]:
    """The document the page loads (see the module docstring)."""
    records = sorted(services.registry.store.snapshot().records, key=_record_order)
    status = ServerStatus.collect(services.registry, services.peers_status)
    history.sample(status.now_ms, instances=len(records))
    info = status.to_dict()
    info.update(
        title=services.title,
        version=eureka_embed.__version__,
        python=platform.python_version(),
        server=services.server_kind,
        store=_store_kind(services),
        cpus=os.cpu_count(),
        memoryBytes=_memory_bytes(),
        now=status.now_ms,
        remoteRegions=_remote_regions(services),
    )
    return {
        "info": info,
        "canAct": can_act,
        "chart": [list(sample) for sample in history.samples(status.now_ms)],
        "registered": [list(entry) for entry in history.registered()],
        "ended": [list(entry) for entry in history.ended()],
        "columns": COLUMNS,
        "instances": [_row(record) for record in records],
    }


def _remote_regions(services: Services) -> list[dict[str, Any]]:
    """Each followed region: name, URL, last successful fetch, instances held, ok/failing."""
    remote = services.remote_regions
    if remote is None:
        return []
    return [
        {
            "name": region.name,
            "url": region.url,
            "lastSuccessAt": region.last_success_ms,
            "instances": region.instances,
            "ok": region.ok,
        }
        for region in remote.statuses()
    ]


def _record_order(record: LeaseRecord) -> tuple[str, str]:
    return record.app, record.instance_id


def _all_view(req: EndpointRequest) -> View:
    return ALL


class DashboardData:
    """The two routes of the page's data, over ``services`` and ``history``."""

    def __init__(self, services: Services, history: DashboardHistory, can_act: CanAct) -> None:
        self._services = services
        self._history = history
        self._can_act = can_act

    def routes(self) -> list[Route]:
        return [
            Route(DATA_PATH, {"GET": self.data}, view_of=_all_view),
            Route(ACTIONS_PATH, {"POST": self.act}, body_methods=frozenset({"POST"})),
        ]

    def data(self, req: EndpointRequest) -> EndpointResponse:
        if self._services.watches.closed and req.query_value("index") is not None:
            return refusal(WATCHES_ENDED)  # the page reconnects, to this node once restarted
        # The index is read before the data, so the data is never older than it says.
        index = self._services.registry.store.view_index(ALL)
        body = orjson.dumps(
            dashboard_data(self._services, self._history, can_act=self._can_act(req))
        )
        headers = [_NO_STORE, ("Vary", "Accept-Encoding"), (INDEX_HEADER, str(index))]
        if accepts_gzip(req.header("accept-encoding")):
            body = gzip_bytes(body)
            headers.append(("Content-Encoding", "gzip"))
        return EndpointResponse(200, _JSON, body, tuple(headers))

    def act(self, req: EndpointRequest) -> EndpointResponse:
        try:
            _refuse_cross_site(req)
            action, app, instance_id = _action_of(req.body)
            registry = self._services.registry
            if action == "out_of_service":
                registry.update_status(app, instance_id, InstanceStatus.OUT_OF_SERVICE)
            elif action == "in_service":
                registry.update_status(app, instance_id, InstanceStatus.UP)
            elif action == "remove_override":
                registry.delete_status_override(app, instance_id)
            else:
                registry.cancel(app, instance_id)
        except Exception as exc:
            return error_response(req, exc)
        answer = orjson.dumps({"done": action, "app": app.upper(), "id": instance_id})
        return EndpointResponse(200, _JSON, answer, (_NO_STORE,))


def _refuse_cross_site(req: EndpointRequest) -> None:
    if req.header(ACTION_HEADER.lower()) is None:
        raise HttpRefusal(Outcome(403, f"dashboard actions need the {ACTION_HEADER} header"))
    fetch_site = req.header("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise HttpRefusal(
            Outcome(403, f"cross-site request refused (Sec-Fetch-Site: {fetch_site})")
        )
    origin = req.header("origin")
    host = req.header("host")
    if origin is not None and origin.split("://", 1)[-1] != host:
        raise HttpRefusal(Outcome(403, "cross-site request refused: Origin is not this server"))


def _action_of(body: bytes) -> tuple[str, str, str]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidInput("the body must be a JSON object") from None
    if not isinstance(doc, dict):
        raise InvalidInput("the body must be a JSON object")
    action, app, instance_id = doc.get("action"), doc.get("app"), doc.get("id")
    if action not in ACTIONS:
        raise InvalidInput(f"action must be one of {', '.join(ACTIONS)}")
    if not isinstance(app, str) or not app or not isinstance(instance_id, str) or not instance_id:
        raise InvalidInput("app and id must be non-empty strings")
    return action, app, instance_id
