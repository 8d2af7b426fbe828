"""The two framework adapters the HTTP behaviour suite runs against: one ``create_app`` each.

Both take the same options and must answer alike; ``falcon.testing.TestClient`` drives either.
The ``create_app`` fixture (tests/wsgi/conftest.py, ids ``wsgi`` and ``asgi``) hands a test one
of them, so a test written once runs against both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from eureka_embed.asgi import create_app as create_asgi_app
from eureka_embed.wsgi import create_app as create_wsgi_app

#: ``create_app(registry, **options)`` of either adapter; the app is typed loosely, as
#: ``falcon.testing.TestClient`` takes either kind.
AppFactory = Callable[..., Any]


ADAPTERS: Final[dict[str, AppFactory]] = {"wsgi": create_wsgi_app, "asgi": create_asgi_app}
