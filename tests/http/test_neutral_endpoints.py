"""The endpoints driven without any web framework, as the next (ASGI) adapter will drive them.

An adapter builds an EurekaApi, finds the route and handler, builds an EndpointRequest (body
included when the route reads one) and writes back what ``answer`` returns. These tests do
exactly that by hand.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections.abc import Iterator, Mapping

import orjson
import pytest

from eureka_embed.http.api import EurekaApi
from eureka_embed.http.endpoints import Route, answer
from eureka_embed.http.messages import EndpointRequest, EndpointResponse
from eureka_embed.registry import Registry
from eureka_embed.testing import memory_registry
from tests.client.support import instance
from tests.wsgi.helpers import instance_id, json_body


@pytest.fixture
def registry() -> Iterator[Registry]:
    made = memory_registry()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def api(registry: Registry) -> EurekaApi:
    return EurekaApi(registry, max_body_bytes=4096)


def _route(api: EurekaApi, template: str) -> Route:
    (route,) = (route for route in api.routes if route.template == template)
    return route


def _call(
    api: EurekaApi,
    method: str,
    template: str,
    params: Mapping[str, str] | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> EndpointResponse:
    route = _route(api, template)
    request = EndpointRequest(
        method=method,
        path=template,
        header=dict(headers or {}).get,
        query=dict(query or {}),
        params=dict(params or {}),
        body=body if route.reads_body(method) else b"",
    )
    return answer(route.handlers[method], request)


APP = "/eureka/apps/{app}"
INSTANCE = "/eureka/apps/{app}/{instance_id}"


def test_the_endpoint_modules_import_no_web_framework() -> None:
    code = (
        "import sys, eureka_embed.http.api;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'falcon', 'waitress'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_routes_cover_every_base_path_the_dashboard_and_metrics(api: EurekaApi) -> None:
    templates = {route.template for route in api.routes}
    assert {"/eureka/apps/{app}", "/eureka/v2/apps/{app}", "/", "/metrics"} <= templates
    assert _route(api, APP).reads_body("POST")
    assert not _route(api, APP).reads_body("GET")


def test_a_gzipped_registration_heartbeat_and_read(api: EurekaApi, registry: Registry) -> None:
    params = {"app": "ORDERS"}
    headers = {"content-type": "application/json", "content-encoding": "gzip"}

    registered = _call(api, "POST", APP, params, headers=headers, body=gzip.compress(json_body()))

    assert (registered.status, registered.content_type, registered.body) == (
        204,
        "application/xml",
        b"",
    )
    one = {"app": "orders", "instance_id": instance_id(1)}
    beat = _call(api, "PUT", INSTANCE, one, headers={"accept": "application/json"})
    assert (beat.status, beat.content_type, beat.body) == (200, "application/json", b"")
    read = _call(api, "GET", INSTANCE, one, headers={"accept": "application/json"})
    assert orjson.loads(read.body)["instance"]["instanceId"] == instance_id(1)


def test_a_refusal_is_a_text_answer(api: EurekaApi) -> None:
    one = {"app": "ORDERS", "instance_id": "nope"}

    refused = _call(api, "PUT", INSTANCE, one, query={"lastDirtyTimestamp": "soon"})

    assert refused.status == 400
    assert refused.content_type == "text/plain; charset=utf-8"
    assert b"lastDirtyTimestamp" in refused.body


def test_an_etag_is_answered_with_a_304(api: EurekaApi, registry: Registry) -> None:
    first = _call(api, "GET", "/eureka/apps")
    etag = dict(first.headers)["ETag"]

    again = _call(api, "GET", "/eureka/apps", headers={"if-none-match": f"W/{etag}"})

    assert (again.status, again.body) == (304, b"")
    registry.register(instance(1))
    assert _call(api, "GET", "/eureka/apps", headers={"if-none-match": etag}).status == 200
