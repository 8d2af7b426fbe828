"""The Eureka REST API as a Falcon ASGI app: ``create_app(registry)``.

The same endpoints, negotiation, errors, cache, dashboard and metrics as
:func:`eureka_embed.wsgi.create_app`, for uvicorn (``eureka-embed serve --server uvicorn``) or
mounted in an ASGI application (FastAPI, Starlette; see ``examples/fastapi_registry.py``).
Needs the ``asgi`` extra.
"""

from __future__ import annotations

from eureka_embed.asgi.app import EurekaAsgiApp, create_app
from eureka_embed.http.api import DEFAULT_BASE_PATHS
from eureka_embed.http.server_status import PeersStatus

__all__ = ["DEFAULT_BASE_PATHS", "EurekaAsgiApp", "PeersStatus", "create_app"]
