"""The OpenAPI document against the app that serves it, on both adapters: every route the app
mounts is in it with its methods, and every status code it lists for an operation happens,
driven here by a request made for it (under every base path)."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import falcon
import falcon.testing
import orjson
import pytest

from eureka_embed.errors import StorageUnavailable
from eureka_embed.http.api import EurekaApi
from eureka_embed.http.openapi import openapi_document
from eureka_embed.registry import Registry
from eureka_embed.testing import config_for_tests
from tests.wsgi.adapters import AppFactory
from tests.wsgi.helpers import BASES, instance_id, json_body, register
from tests.wsgi.test_errors import FailingStore

Result = falcon.testing.Result
ID: Final = instance_id(1)
APP_PATH: Final = "apps/ORDERS"
INSTANCE_PATH: Final = f"apps/ORDERS/{ID}"
JSON_POST: Final = {"Content-Type": "application/json", "Accept": "application/json"}
REPLICATED: Final = {"x-netflix-discovery-replication": "true"}
SMALL_LIMIT: Final = 2000


@dataclass
class Setup:
    """An app over a store that can be made to fail, and a client of it."""

    create_app: AppFactory
    base: str
    store: FailingStore = field(default_factory=FailingStore)
    delta_enabled: bool = True

    def client(self) -> falcon.testing.TestClient:
        registry = Registry(self.store, config_for_tests(delta_enabled=self.delta_enabled))
        return falcon.testing.TestClient(
            self.create_app(registry, max_body_bytes=SMALL_LIMIT, metrics=True)
        )

    def url(self, below: str) -> str:
        return f"{self.base}/{below}" if not below.startswith("/") else below

    def registered(self) -> falcon.testing.TestClient:
        client = self.client()
        register(client, base=self.base or BASES[0])  # the dashboard shows it
        return client

    def down(self) -> falcon.testing.TestClient:
        """A client whose store is unreachable (after ORDERS/host1 was registered)."""
        client = self.registered()
        self.store.failure = StorageUnavailable("database connection refused (test)")
        return client


Driver = Callable[[Setup], Result]


def _get(below: str, **kwargs: Any) -> Driver:
    return lambda s: s.registered().simulate_get(s.url(below), **kwargs)


def _request(method: str, below: str, **kwargs: Any) -> Driver:
    return lambda s: s.registered().simulate_request(method, s.url(below), **kwargs)


def _down(method: str, below: str, **kwargs: Any) -> Driver:
    return lambda s: s.down().simulate_request(method, s.url(below), **kwargs)


def _not_modified(below: str) -> Driver:
    def drive(s: Setup) -> Result:
        client = s.registered()
        etag = client.simulate_get(s.url(below)).headers["ETag"]
        return client.simulate_get(s.url(below), headers={"If-None-Match": etag})

    return drive


def _bad_watch(below: str) -> Driver:
    return _get(below, params={"index": "not-a-number"})


def _stopping(below: str) -> Driver:
    """A watch on a server that is stopping (its watches were ended)."""

    def drive(s: Setup) -> Result:
        registry = Registry(s.store, config_for_tests())
        api = EurekaApi(registry)
        # The adapter's factory, applied to an api we can close (as a stopping server does).
        app = _adapter_app(s.create_app, api)
        api.close()
        return falcon.testing.TestClient(app).simulate_get(s.url(below), params={"index": "0"})

    return drive


def _adapter_app(create_app: AppFactory, api: EurekaApi) -> Any:
    from eureka_embed.asgi.app import create_app as asgi_create_app
    from eureka_embed.asgi.app import falcon_asgi_app
    from eureka_embed.wsgi.app import falcon_app

    return falcon_asgi_app(api) if create_app is asgi_create_app else falcon_app(api)


def _delta_disabled(s: Setup) -> Result:
    s.delta_enabled = False
    return s.client().simulate_get(s.url("apps/delta"))


def _conflict(s: Setup) -> Result:
    # A peer renews with an older lastDirtyTimestamp than this node holds (1000).
    return s.registered().simulate_put(
        s.url(INSTANCE_PATH), params={"lastDirtyTimestamp": "1"}, headers=REPLICATED
    )


def _post(below: str, body: bytes, **headers: str) -> Driver:
    return lambda s: s.client().simulate_post(
        s.url(below), body=body, headers={**JSON_POST, **headers}
    )


_GZIP_BOMB: Final = gzip.compress(b" " * (SMALL_LIMIT * 50))
_BATCH: Final = orjson.dumps(
    {"replicationList": [{"appName": "ORDERS", "id": ID, "action": "Cancel"}]}
)


_ACTION: Final = orjson.dumps({"action": "deregister", "app": "ORDERS", "id": ID})
_ACTING: Final = {"X-Eureka-Dashboard": "1"}


def _act(body: bytes, **headers: str) -> Driver:
    return lambda s: s.registered().simulate_post(
        "/dashboard/actions", body=body, headers={**JSON_POST, **headers}
    )


def _watched_read(below: str) -> dict[int, Driver]:
    return {200: _get(below), 400: _bad_watch(below), 503: _down("GET", below)}


#: One request per (route below the base path, method, documented status).
DRIVERS: Final[dict[tuple[str, str], dict[int, Driver]]] = {
    ("apps", "GET"): {**_watched_read("apps"), 304: _not_modified("apps")},
    ("apps/delta", "GET"): {
        **_watched_read("apps/delta"),
        304: _not_modified("apps/delta"),
        403: _delta_disabled,
    },
    ("apps/{app}", "GET"): {
        **_watched_read(APP_PATH),
        304: _not_modified(APP_PATH),
        404: _get("apps/NOBODY"),
    },
    ("apps/{app}", "POST"): {
        204: _post(APP_PATH, json_body()),
        400: _post("apps/OTHER", json_body()),
        413: _post(APP_PATH, _GZIP_BOMB, **{"Content-Encoding": "gzip"}),
        415: _post(APP_PATH, json_body(), **{"Content-Encoding": "br"}),
        503: _down("POST", APP_PATH, body=json_body(), headers=JSON_POST),
    },
    ("apps/{app}/{instance_id}", "GET"): {
        **_watched_read(INSTANCE_PATH),
        404: _get("apps/ORDERS/nobody"),
    },
    ("apps/{app}/{instance_id}", "PUT"): {
        200: _request("PUT", INSTANCE_PATH),
        400: _request("PUT", INSTANCE_PATH, params={"lastDirtyTimestamp": "yesterday"}),
        404: _request("PUT", "apps/ORDERS/nobody"),
        409: _conflict,
        503: _down("PUT", INSTANCE_PATH),
    },
    ("apps/{app}/{instance_id}", "DELETE"): {
        200: _request("DELETE", INSTANCE_PATH),
        404: _request("DELETE", "apps/ORDERS/nobody"),
        503: _down("DELETE", INSTANCE_PATH),
    },
    ("apps/{app}/{instance_id}/status", "PUT"): {
        200: _request("PUT", f"{INSTANCE_PATH}/status", params={"value": "OUT_OF_SERVICE"}),
        400: _request("PUT", f"{INSTANCE_PATH}/status", params={"value": "SIDEWAYS"}),
        404: _request("PUT", "apps/ORDERS/nobody/status", params={"value": "UP"}),
        503: _down("PUT", f"{INSTANCE_PATH}/status", params={"value": "UP"}),
    },
    ("apps/{app}/{instance_id}/status", "DELETE"): {
        200: _request("DELETE", f"{INSTANCE_PATH}/status"),
        400: _request("DELETE", f"{INSTANCE_PATH}/status", params={"value": "SIDEWAYS"}),
        404: _request("DELETE", "apps/ORDERS/nobody/status"),
        503: _down("DELETE", f"{INSTANCE_PATH}/status"),
    },
    ("apps/{app}/{instance_id}/metadata", "PUT"): {
        200: _request("PUT", f"{INSTANCE_PATH}/metadata", params={"zone": "a"}),
        400: _request("PUT", f"{INSTANCE_PATH}/metadata", params={"1 not a name": "a"}),
        404: _request("PUT", "apps/ORDERS/nobody/metadata", params={"zone": "a"}),
        503: _down("PUT", f"{INSTANCE_PATH}/metadata", params={"zone": "a"}),
    },
    ("instances/{instance_id}", "GET"): {
        200: _get(f"instances/{ID}"),
        404: _get("instances/nobody"),
        503: _down("GET", f"instances/{ID}"),
    },
    ("vips/{vip}", "GET"): {**_watched_read("vips/orders"), 304: _not_modified("vips/orders")},
    ("svips/{vip}", "GET"): {
        **_watched_read("svips/orders-secure"),
        304: _not_modified("svips/orders-secure"),
    },
    ("status", "GET"): {200: _get("status"), 503: _down("GET", "status")},
    ("peerreplication/batch", "POST"): {
        200: _post("peerreplication/batch", _BATCH),
        400: _post("peerreplication/batch", b'{"not": "a batch"}'),
        413: _post("peerreplication/batch", b" " * (SMALL_LIMIT + 1)),
        415: _post("peerreplication/batch", _BATCH, **{"Content-Type": "application/xml"}),
    },
    ("openapi.json", "GET"): {200: _get("openapi.json")},
    ("/", "GET"): {200: _get("/")},
    ("/dashboard/data", "GET"): {
        200: _get("/dashboard/data"),
        400: _bad_watch("/dashboard/data"),
        503: _stopping("/dashboard/data"),
    },
    ("/dashboard/actions", "POST"): {
        200: _act(_ACTION, **_ACTING),
        400: _act(b'{"action": "explode"}', **_ACTING),
        403: _act(_ACTION),
        404: _act(_ACTION.replace(b"host1", b"nobody"), **_ACTING),
        503: _down("POST", "/dashboard/actions", body=_ACTION, headers={**JSON_POST, **_ACTING}),
    },
    ("/metrics", "GET"): {200: _get("/metrics"), 503: _down("GET", "/metrics")},
}

# The 503 of a watch on a stopping server, beside the store's: both are documented as 503.
STOPPING: Final = {
    (below, "GET") for below in ("apps", "apps/delta", "apps/{app}", "apps/{app}/{instance_id}")
} | {("vips/{vip}", "GET"), ("svips/{vip}", "GET")}


def _below(template: str) -> str:
    for base in sorted(BASES, key=len, reverse=True):
        if template.startswith(base + "/"):
            return template[len(base) + 1 :]
    return template


def _document() -> dict[str, Any]:
    registry = Registry(FailingStore(), config_for_tests())
    routes = {route.template: list(route.handlers) for route in EurekaApi(registry).routes}
    return openapi_document(routes, title="test")


def _documented() -> list[tuple[str, str, str, int]]:
    """(template, below the base, method, status) of every documented answer."""
    rows = []
    for template, item in _document()["paths"].items():
        for method, operation in item.items():
            for status in operation["responses"]:
                rows.append((template, _below(template), method.upper(), int(status)))
    return rows


def test_every_route_the_app_mounts_is_documented_with_its_methods(
    create_app: AppFactory,
) -> None:
    client = falcon.testing.TestClient(create_app(Registry(FailingStore())))
    document = client.simulate_get("/eureka/openapi.json").json

    registry = Registry(FailingStore())
    mounted = {route.template: set(route.handlers) for route in EurekaApi(registry).routes}
    for base in BASES:
        mounted[f"{base}/openapi.json"] = {"GET"}
    documented = {
        template: {method.upper() for method in item}
        for template, item in document["paths"].items()
    }
    assert documented == mounted
    assert document["openapi"] == "3.1.0"
    # The place the auth work fills in (SPEC section 9); no scheme is claimed before it exists.
    assert document["components"]["securitySchemes"] == {}


def test_every_documented_operation_has_a_driver_for_each_of_its_codes() -> None:
    documented = {(below, method, status) for _, below, method, status in _documented()}
    driven = {
        (below, method, status) for (below, method), codes in DRIVERS.items() for status in codes
    }
    assert driven == documented


@pytest.mark.parametrize(
    ("template", "below", "method", "status"),
    _documented(),
    ids=str,
)
def test_each_documented_code_happens(
    create_app: AppFactory, template: str, below: str, method: str, status: int
) -> None:
    base = template[: -len(below) - 1] if template != below else ""
    setup = Setup(create_app, base)

    result = DRIVERS[below, method][status](setup)

    assert result.status_code == status, result.text
    if status >= 400:
        assert result.text.strip(), "a refusal says why"
    if (below, method) in STOPPING and status == 503:
        path = below.replace("{app}", "ORDERS").replace("{instance_id}", ID)
        stopped = _stopping(path.replace("{vip}", "orders"))(Setup(create_app, base))
        assert stopped.status_code == 503, stopped.text


def test_with_the_store_down_every_operation_answers_a_documented_code(
    create_app: AppFactory,
) -> None:
    setup = Setup(create_app, BASES[0])
    client = setup.down()
    undocumented = []
    for template, item in _document()["paths"].items():
        path = template.replace("{app}", "ORDERS").replace("{instance_id}", ID)
        for method, operation in item.items():
            result = client.simulate_request(
                method.upper(),
                path.replace("{vip}", "orders"),
                body=json_body() if method == "post" else None,
                headers=JSON_POST,
            )
            if str(result.status_code) not in operation["responses"]:
                undocumented.append((method, template, result.status_code))
    assert undocumented == []


def test_an_api_mounted_at_the_root_documents_its_own_paths(create_app: AppFactory) -> None:
    client = falcon.testing.TestClient(create_app(Registry(FailingStore()), base_paths=["/"]))

    document = client.simulate_get("/openapi.json").json

    assert {"/apps", "/apps/{app}", "/status", "/openapi.json", "/", "/metrics"} <= set(
        document["paths"]
    )
    assert not any(path.startswith("/eureka") for path in document["paths"])
    assert client.simulate_get("/eureka/openapi.json").status_code == 404
