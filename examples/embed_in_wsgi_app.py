"""Serve a eureka_embed registry from inside a WSGI application you already have.

Two ways, both mounting the registry under ``/registry`` (so Eureka clients use
``http://host:port/registry/eureka/`` as their service URL, and the dashboard is at
``/registry/``):

1. ``build_falcon_host()``: an existing Falcon app keeps its own routes; a sink hands every
   request below ``/registry`` to the registry app (:class:`WsgiMount`).
2. ``build_dispatcher()``: a framework-free WSGI dispatcher (:class:`PrefixDispatcher`) in front
   of any WSGI app (Flask, Django, Pyramid, a bare function...).

Either way the request reaching the registry has ``SCRIPT_NAME`` extended by the prefix and
``PATH_INFO`` shortened by it, as PEP 3333 says a mounted app expects.

Run it::

    python examples/embed_in_wsgi_app.py            # serve the Falcon host on 127.0.0.1:8080
    python examples/embed_in_wsgi_app.py --dispatcher
    python examples/embed_in_wsgi_app.py --check    # exercise both setups in-process, exit 0
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import falcon
import falcon.testing

from eureka_embed.maintenance import MaintenanceRunner
from eureka_embed.registry import Registry
from eureka_embed.wsgi import create_app

PREFIX = "/registry"

# PEP 3333's shapes, loose enough for any WSGI app (Falcon's included).
WSGIEnvironment = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApplication = Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]


def shift_path(environ: WSGIEnvironment, prefix: str) -> WSGIEnvironment:
    """A copy of ``environ`` as the app mounted at ``prefix`` must see it."""
    path = environ.get("PATH_INFO", "")
    shifted = dict(environ)
    shifted["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
    shifted["PATH_INFO"] = path[len(prefix) :]
    return shifted


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


# -- 1. inside an existing Falcon app ----------------------------------------------------------


class WsgiMount:
    """A Falcon sink that answers with another WSGI app (here: the registry)."""

    def __init__(self, prefix: str, app: WSGIApplication) -> None:
        self.prefix = prefix
        self.app = app
        # A string sink prefix would also match "/registryfoo"; this one stops at a segment.
        self.pattern = re.compile(re.escape(prefix) + r"(?=/|$)")

    def __call__(self, req: falcon.Request, resp: falcon.Response, **_: Any) -> None:
        captured: dict[str, Any] = {}
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            captured["status"], captured["headers"] = status, headers
            return written.append

        result = self.app(shift_path(req.env, self.prefix), start_response)
        try:
            body = b"".join([*written, *result])
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        resp.status = captured["status"]
        for name, value in captured["headers"]:
            if name.lower() != "content-length":  # Falcon sets its own from resp.data
                resp.append_header(name, value)
        resp.data = body


class Hello:
    """Stands for the host application's own routes."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"hello": "from the host app"}


def build_falcon_host(registry: Registry) -> falcon.App[falcon.Request, falcon.Response]:
    host: falcon.App[falcon.Request, falcon.Response] = falcon.App()
    host.add_route("/hello", Hello())
    mount = WsgiMount(PREFIX, create_app(registry))
    host.add_sink(mount, prefix=mount.pattern)
    return host


# -- 2. a framework-free dispatcher -------------------------------------------------------------


class PrefixDispatcher:
    """Routes requests under each prefix to its app, everything else to ``default``."""

    def __init__(self, mounts: Mapping[str, WSGIApplication], default: WSGIApplication) -> None:
        # Longest prefix first, so "/a/b" wins over "/a".
        self.mounts = sorted(mounts.items(), key=lambda item: len(item[0]), reverse=True)
        self.default = default

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        for prefix, app in self.mounts:
            if _under(path, prefix):
                return app(shift_path(environ, prefix), start_response)
        return self.default(environ, start_response)


def host_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Stands for any WSGI application you already serve."""
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"hello from the host app\n"]


def build_dispatcher(registry: Registry) -> PrefixDispatcher:
    return PrefixDispatcher({PREFIX: create_app(registry)}, default=host_app)


# -- checking and serving -----------------------------------------------------------------------

_INSTANCE = b"""{"instance": {"instanceId": "web-1:shop:8080", "hostName": "web-1", "app": "SHOP",
  "ipAddr": "10.0.0.7", "status": "UP", "port": {"$": 8080, "@enabled": "true"},
  "dataCenterInfo": {"@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
                     "name": "MyOwn"}}}"""


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"check failed: {what}")


def _post(app: WSGIApplication, path: str, body: bytes, headers: dict[str, str]) -> str:
    """POST as a WSGI server would. (falcon.testing's wsgiref validator refuses the
    Content-Type that Eureka servers, and this one, send on a 204.)"""
    environ = falcon.testing.create_environ(path=path, method="POST", body=body, headers=headers)
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Callable[..., None]:
        statuses.append(status)
        return lambda data: None

    b"".join(app(environ, start_response))
    return statuses[0]


def check(app: WSGIApplication, host_marker: str) -> None:
    """Register, heartbeat and read through the mount; the host's own route must still work."""
    client = falcon.testing.TestClient(app)
    json = {"Accept": "application/json", "Content-Type": "application/json"}
    registered = _post(app, f"{PREFIX}/eureka/apps/SHOP", _INSTANCE, json)
    _expect(registered.startswith("204"), f"register answered {registered}")
    beat = client.simulate_put(f"{PREFIX}/eureka/v2/apps/SHOP/web-1%3Ashop%3A8080")
    _expect(beat.status_code == 200, f"heartbeat answered {beat.status}")
    apps = client.simulate_get(f"{PREFIX}/eureka/apps/", headers=json)
    _expect(apps.status_code == 200 and "web-1:shop:8080" in apps.text, "registry lists SHOP")
    page = client.simulate_get(f"{PREFIX}/dashboard/data")
    _expect(page.status_code == 200 and "SHOP" in page.text, "dashboard shows SHOP")
    host = client.simulate_get("/hello")
    _expect(host.status_code == 200 and host_marker in host.text, "host route still answers")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="run both setups in-process")
    parser.add_argument("--dispatcher", action="store_true", help="serve the plain dispatcher")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)

    if args.check:
        check(build_falcon_host(Registry()), "from the host app")
        check(build_dispatcher(Registry()), "hello from the host app")
        print("ok: the registry answers under /registry in both setups")
        return 0

    import waitress  # type: ignore[import-untyped, unused-ignore]  # typed only via types-waitress

    registry = Registry()
    app: WSGIApplication = (
        build_dispatcher(registry) if args.dispatcher else build_falcon_host(registry)
    )
    # Eviction, delta pruning and the renewal-rate clock need the maintenance runner.
    with MaintenanceRunner(registry):
        print(f"dashboard: http://127.0.0.1:{args.port}{PREFIX}/")
        waitress.serve(app, host="127.0.0.1", port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
