"""The Eureka REST API as a Falcon WSGI app: ``create_app(registry)``.

Needs the ``server`` extra (falcon, prometheus_client; waitress to serve it standalone).
"""

from __future__ import annotations

from eureka_embed.http.server_status import PeersStatus
from eureka_embed.wsgi.app import DEFAULT_BASE_PATHS, EurekaApp, create_app

__all__ = ["DEFAULT_BASE_PATHS", "EurekaApp", "PeersStatus", "create_app"]
