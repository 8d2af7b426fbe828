"""The operators' part of Eureka's server API: ASG status, status overrides, and the probes.

- ``PUT asg/{asg_name}/status?value=ENABLED|DISABLED``: Eureka's ``ASGResource``; 200, and the
  state is forwarded to peers unless a peer sent it (see :mod:`eureka_embed.asg_status`).
- ``GET serverinfo/statusoverrides``: Eureka's ``ServerInfoResource``, the status overrides as a
  JSON object from instance id to status (Eureka writes it with Jackson, JSON whatever the
  ``Accept``).
- ``GET /healthz`` and ``GET /readyz`` at the root (:mod:`.probes`).
"""

from __future__ import annotations

from typing import Final

import orjson

from eureka_embed.asg_status import AsgStatus
from eureka_embed.http.endpoints import Route
from eureka_embed.http.messages import EndpointRequest, EndpointResponse
from eureka_embed.http.negotiation import response_format
from eureka_embed.http.outcomes import DONE
from eureka_embed.http.params import is_replication
from eureka_embed.http.probes import Readiness, healthz, readyz
from eureka_embed.http.responses import bodiless
from eureka_embed.model import InstanceStatus
from eureka_embed.registry import Registry

__all__ = ["OperationEndpoints", "operation_routes", "probe_routes"]

_MEDIA_JSON: Final = "application/json"


class OperationEndpoints:
    def __init__(self, registry: Registry, readiness: Readiness) -> None:
        self._registry = registry
        self.readiness = readiness

    def put_asg_status(self, req: EndpointRequest) -> EndpointResponse:
        """``PUT asg/{asg_name}/status?value=``; an unknown value is a 400 (Eureka: a 500)."""
        status = AsgStatus.parse(req.query_value("value"))
        self._registry.update_asg_status(
            req.params["asg_name"], status, replication=is_replication(req)
        )
        return bodiless(DONE, response_format(req))

    def status_overrides(self, req: EndpointRequest) -> EndpointResponse:
        """``GET serverinfo/statusoverrides``: ``{"<instance id>": "OUT_OF_SERVICE", ...}``."""
        overrides = {
            instance.instance_id: instance.overridden_status.value
            for instance in self._registry.get_applications().instances()
            if instance.overridden_status is not InstanceStatus.UNKNOWN
        }
        return EndpointResponse(
            200, _MEDIA_JSON, orjson.dumps(overrides), (("Cache-Control", "no-store"),)
        )

    def readyz(self, req: EndpointRequest) -> EndpointResponse:
        return readyz(self.readiness, req)


def operation_routes(endpoints: OperationEndpoints) -> list[Route]:
    """The routes below each base path (``/eureka/asg/...``)."""
    return [
        Route("asg/{asg_name}/status", {"PUT": endpoints.put_asg_status}),
        Route("serverinfo/statusoverrides", {"GET": endpoints.status_overrides}),
    ]


def probe_routes(endpoints: OperationEndpoints) -> list[Route]:
    """The probes, at the root where orchestrators look for them."""
    return [
        Route("/healthz", {"GET": healthz}, inline_methods=frozenset({"GET"})),
        Route("/readyz", {"GET": endpoints.readyz}),
    ]
