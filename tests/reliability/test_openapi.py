"""The OpenAPI document against the app that serves it, on both adapters: every route the app
mounts is in it with its methods, and every status code it lists for an operation happens,
driven here by a request made for it (under every base path), open and with auth (where the
endpoints' codes are driven as a user with every role, and each guarded operation's 401, 403
and 429 by a request made for them)."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import falcon
import falcon.testing
import orjson
import pytest

from eureka_embed.auth.guard import access_of
from eureka_embed.auth.roles import Access, Identity
from eureka_embed.clock import ManualClock
from eureka_embed.errors import StorageUnavailable
from eureka_embed.http.api import EurekaApi
from eureka_embed.http.openapi import BASIC_SCHEME, openapi_document
from eureka_embed.registry import Registry
from eureka_embed.testing import config_for_tests
from tests.auth.support import authorization
from tests.regions.support import REGION, region_rig
from tests.reliability.auth_users import as_fuzzer, basic_auth
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
    """An app over a store that can be made to fail, and a client of it.

    With ``auth``, each app checks HTTP Basic credentials (no anonymous roles) and its client
    sends a user with every role unless given other ``headers``.
    """

    create_app: AppFactory
    base: str
    auth: bool = False
    store: FailingStore = field(default_factory=FailingStore)
    delta_enabled: bool = True

    def options(self) -> dict[str, Any]:
        return {"auth": basic_auth()} if self.auth else {}

    def client(self, headers: Mapping[str, str] | None = None) -> falcon.testing.TestClient:
        """A client of a new app; ``headers`` (``{}``: none) instead of the setup's user's."""
        registry = Registry(self.store, config_for_tests(delta_enabled=self.delta_enabled))
        app = self.create_app(registry, max_body_bytes=SMALL_LIMIT, metrics=True, **self.options())
        if headers is None and self.auth:
            headers = as_fuzzer()
        return falcon.testing.TestClient(app, headers=dict(headers or {}))

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
        api = EurekaApi(registry, **s.options())
        # The adapter's factory, applied to an api we can close (as a stopping server does).
        app = _adapter_app(s.create_app, api)
        api.close()
        client = falcon.testing.TestClient(app, headers=as_fuzzer() if s.auth else {})
        return client.simulate_get(s.url(below), params={"index": "0"})

    return drive


def _adapter_app(create_app: AppFactory, api: EurekaApi) -> Any:
    from eureka_embed.asgi.app import create_app as asgi_create_app
    from eureka_embed.asgi.app import falcon_asgi_app
    from eureka_embed.wsgi.app import falcon_app

    return falcon_asgi_app(api) if create_app is asgi_create_app else falcon_app(api)


def _delta_disabled(s: Setup) -> Result:
    s.delta_enabled = False
    return s.client().simulate_get(s.url("apps/delta"))


def _region_not_fetched(below: str) -> Driver:
    """A read with ``?regions=`` on a node whose remote region was never fetched."""

    def drive(s: Setup) -> Result:
        registry = Registry(s.store, config_for_tests())
        unfetched = region_rig(ManualClock()).regions()  # never started
        app = s.create_app(registry, remote_regions=unfetched, **s.options())
        client = falcon.testing.TestClient(app, headers=as_fuzzer() if s.auth else {})
        return client.simulate_get(s.url(below), params={"regions": REGION})

    return drive


def _conflict(s: Setup) -> Result:
    # A peer renews with an older lastDirtyTimestamp than this node holds (1000).
    return s.registered().simulate_put(
        s.url(INSTANCE_PATH), params={"lastDirtyTimestamp": "1"}, headers=REPLICATED
    )


def _asg_down(s: Setup) -> Result:
    """An ASG change whose instances cannot be written: the store went down."""
    client = s.client()
    client.simulate_post(s.url(APP_PATH), body=json_body(asgName="orders-v1"), headers=JSON_POST)
    s.store.failure = StorageUnavailable("database connection refused (test)")
    return client.simulate_put(s.url("asg/orders-v1/status"), params={"value": "DISABLED"})


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
    ("apps", "GET"): {
        **_watched_read("apps"),
        304: _not_modified("apps"),
        403: _region_not_fetched("apps"),
    },
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
    ("asg/{asg_name}/status", "PUT"): {
        200: _request("PUT", "asg/orders-v1/status", params={"value": "DISABLED"}),
        400: _request("PUT", "asg/orders-v1/status", params={"value": "SIDEWAYS"}),
        503: _asg_down,
    },
    ("serverinfo/statusoverrides", "GET"): {
        200: _get("serverinfo/statusoverrides"),
        503: _down("GET", "serverinfo/statusoverrides"),
    },
    ("/healthz", "GET"): {200: _get("/healthz")},
    ("/readyz", "GET"): {200: _get("/readyz"), 503: _down("GET", "/readyz")},
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

_SAMPLE_PATHS: Final = {"{app}": "ORDERS", "{instance_id}": ID, "{vip}": "orders"}
#: What the endpoint needs to get past reading the request, by (route, method).
_SAMPLE_REQUESTS: Final[dict[tuple[str, str], dict[str, Any]]] = {
    ("apps/{app}", "POST"): {"body": json_body(), "headers": JSON_POST},
    ("peerreplication/batch", "POST"): {"body": _BATCH, "headers": JSON_POST},
    ("apps/{app}/{instance_id}/status", "PUT"): {"params": {"value": "UP"}},
}


def _as(
    below: str, method: str, headers: Mapping[str, str], *, app: str = "ORDERS", failures: int = 0
) -> Driver:
    """A request to the operation with ``headers`` (``app`` in its path), from an address
    that had ``failures`` wrong passwords just before."""

    def drive(s: Setup) -> Result:
        client = s.client(headers={})
        for _ in range(failures):
            wrong = client.simulate_get(
                f"{s.base or BASES[0]}/apps", headers=authorization("ops", "wrong")
            )
            assert wrong.status_code == 401, wrong.text
        path = below
        for field_name, value in {**_SAMPLE_PATHS, "{app}": app}.items():
            path = path.replace(field_name, value)
        sample = _SAMPLE_REQUESTS.get((below, method), {})
        sent = {**sample.get("headers", {}), **headers}
        return client.simulate_request(method, s.url(path), **{**sample, "headers": sent})

    return drive


def _forbidden(below: str, method: str) -> Driver:
    """A known user without the right: a register user writing another application, a
    reader replicating, a reader sending the replication header on a read (every role reads,
    so that header is the only thing a read can be forbidden for)."""
    access = access_of(below, method)
    if access is Access.WRITE:
        return _as(below, method, authorization("orders"), app="OTHER")
    if access is Access.REPLICATE:
        return _as(below, method, authorization("reader"))
    return _as(below, method, {**authorization("reader"), **REPLICATED})


#: The guard's answers, for every operation it checks: none of them is open (the probes are
#: not mounted by EurekaApi) and the document itself is not guarded.
AUTH_DRIVERS: Final[dict[tuple[str, str], dict[int, Driver]]] = {
    (below, method): {
        401: _as(below, method, {}),
        403: _forbidden(below, method),
        429: _as(below, method, as_fuzzer(), failures=20),
    }
    for below, method in DRIVERS
    # Open whatever the auth: the document, and the probes (an orchestrator has no credentials).
    if below not in ("openapi.json", "/healthz", "/readyz")
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


def _document(*, auth: bool = False, anonymous: tuple[str, ...] = ()) -> dict[str, Any]:
    registry = Registry(FailingStore(), config_for_tests())
    api = EurekaApi(registry, auth=basic_auth(anonymous) if auth else None)
    routes = {route.template: list(route.handlers) for route in api.routes}
    return openapi_document(routes, title="test", guard=api.guard)


def _documented(*, auth: bool = False) -> list[tuple[str, str, str, int]]:
    """(template, below the base, method, status) of every documented answer."""
    rows = []
    for template, item in _document(auth=auth)["paths"].items():
        for method, operation in item.items():
            for status in operation["responses"]:
                rows.append((template, _below(template), method.upper(), int(status)))
    return rows


def _driver(below: str, method: str, status: int) -> Driver:
    codes = DRIVERS[below, method]
    return codes[status] if status in codes else AUTH_DRIVERS[below, method][status]


@pytest.mark.parametrize("auth", [False, True], ids=["open", "auth"])
def test_every_route_the_app_mounts_is_documented_with_its_methods(
    create_app: AppFactory, auth: bool
) -> None:
    options = {"auth": basic_auth()} if auth else {}
    client = falcon.testing.TestClient(create_app(Registry(FailingStore()), **options))
    answer = client.simulate_get("/eureka/openapi.json")  # no credentials: the doc is open
    assert answer.status_code == 200, answer.text
    document = answer.json

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
    assert document == _document(auth=auth) | {"info": document["info"]}
    # Open: nothing about credentials; with auth, the scheme and the guard's answers on every
    # operation but the open ones.
    assert document["components"]["securitySchemes"] == (BASIC_SCHEME if auth else {})
    for template, item in document["paths"].items():
        for operation in item.values():
            # The document and the probes are open whatever the auth (auth/guard.py).
            guarded = auth and not template.endswith(("/openapi.json", "/healthz", "/readyz"))
            assert ("security" in operation) == guarded, template
            assert {"401", "429"} <= set(operation["responses"]) or not guarded, template
            assert not {"401", "429"} & set(operation["responses"]) or guarded, template


def test_operations_anonymous_may_use_say_credentials_are_optional(
    create_app: AppFactory,
) -> None:
    document = _document(auth=True, anonymous=("read",))
    security = {
        (template, method): operation["security"]
        for template, item in document["paths"].items()
        for method, operation in item.items()
        if "security" in operation
    }
    optional: list[dict[str, list[str]]] = [{}, {"basic": []}]
    assert security["/eureka/apps", "get"] == optional
    assert security["/metrics", "get"] == optional
    assert security["/eureka/apps/{app}", "post"] == [{"basic": []}]
    assert security["/eureka/peerreplication/batch", "post"] == [{"basic": []}]
    assert _document(auth=True)["paths"]["/eureka/apps"]["get"]["security"] == [{"basic": []}]

    # What the document claims: a read without credentials passes, wrong ones do not.
    app = create_app(Registry(FailingStore()), auth=basic_auth(("read",)))
    client = falcon.testing.TestClient(app)
    assert client.simulate_get("/eureka/apps").status_code == 200
    wrong = client.simulate_get("/eureka/apps", headers=authorization("reader", "wrong"))
    assert wrong.status_code == 401
    assert client.simulate_post("/eureka/apps/ORDERS", body=json_body()).status_code == 401


@pytest.mark.parametrize("auth", [False, True], ids=["open", "auth"])
def test_every_documented_operation_has_a_driver_for_each_of_its_codes(auth: bool) -> None:
    documented = {(below, method, status) for _, below, method, status in _documented(auth=auth)}
    driven = {
        (below, method, status)
        for (below, method), codes in DRIVERS.items()
        for status in {*codes, *(AUTH_DRIVERS.get((below, method), {}) if auth else ())}
    }
    assert driven == documented


# With auth, under /eureka and at the root: /eureka/v2 mounts the same guarded route table
# (the rows of both are checked to be the same above), at twice the time.
_ROWS: Final = [(False, *row) for row in _documented()] + [
    (True, *row) for row in _documented(auth=True) if not row[0].startswith("/eureka/v2/")
]


@pytest.mark.parametrize(("auth", "template", "below", "method", "status"), _ROWS, ids=str)
def test_each_documented_code_happens(
    create_app: AppFactory, template: str, below: str, method: str, status: int, *, auth: bool
) -> None:
    base = template[: -len(below) - 1] if template != below else ""
    setup = Setup(create_app, base, auth=auth)

    result = _driver(below, method, status)(setup)

    assert result.status_code == status, result.text
    if status >= 400:
        assert result.text.strip(), "a refusal says why"
    if status in (401, 429):  # the headers the document describes for them
        documented = _document(auth=True)["paths"][template][method.lower()]["responses"]
        for name in documented[str(status)]["headers"]:
            assert result.headers.get(name), (name, result.headers)
    if (below, method) in STOPPING and status == 503:
        path = below.replace("{app}", "ORDERS").replace("{instance_id}", ID)
        stopped = _stopping(path.replace("{vip}", "orders"))(Setup(create_app, base, auth=auth))
        assert stopped.status_code == 503, stopped.text


@pytest.mark.parametrize("auth", [False, True], ids=["open", "auth"])
def test_with_the_store_down_every_operation_answers_a_documented_code(
    create_app: AppFactory, auth: bool
) -> None:
    setup = Setup(create_app, BASES[0], auth=auth)
    client = setup.down()
    undocumented = []
    for template, item in _document(auth=auth)["paths"].items():
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


def test_a_host_applications_own_check_is_documented_without_a_scheme(
    create_app: AppFactory,
) -> None:
    def check(request: Any) -> Identity | None:
        # Who sent it is the host application's business: here, a header of its own.
        return Identity.of("web", ["read"]) if request.header("x-user") == "web" else None

    client = falcon.testing.TestClient(create_app(Registry(FailingStore()), auth=check))
    document = client.simulate_get("/eureka/openapi.json").json
    operation = document["paths"]["/eureka/apps/{app}"]["post"]

    assert document["components"]["securitySchemes"] == {}
    assert "security" not in operation
    assert {"401", "403"} <= set(operation["responses"])
    assert "429" not in operation["responses"]  # only BasicAuth throttles
    anonymous = client.simulate_post("/eureka/apps/ORDERS", body=json_body(), headers=JSON_POST)
    reader = client.simulate_post(
        "/eureka/apps/ORDERS", body=json_body(), headers={**JSON_POST, "x-user": "web"}
    )
    assert (anonymous.status_code, reader.status_code) == (401, 403)
