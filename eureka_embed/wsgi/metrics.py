"""Falcon middleware timing every request into :class:`~eureka_embed.http.metrics.RequestStats`."""

from __future__ import annotations

import time
from typing import Final

import falcon

from eureka_embed.http.metrics import RequestStats

__all__ = ["RequestMetrics"]

_STARTED: Final = "eureka_embed_started"


class RequestMetrics:
    """Measures each request from routing to the answer, by method, route template and status."""

    def __init__(self, stats: RequestStats) -> None:
        self._stats = stats

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        setattr(req.context, _STARTED, time.perf_counter())

    def process_response(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        resource: object,
        req_succeeded: bool,
    ) -> None:
        started: float | None = getattr(req.context, _STARTED, None)
        if started is None:  # process_request did not run (a failure in an earlier middleware)
            return
        elapsed = time.perf_counter() - started
        self._stats.observe(req.method, req.uri_template, resp.status_code, elapsed)
