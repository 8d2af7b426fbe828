"""schemathesis against live servers (waitress and uvicorn, memory and SQLite stores): every
operation of the OpenAPI document, a bounded number of generated requests each, with the checks
for server errors, status codes, content types and response schemas. Any failure is a bug in
the server or in the document."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from eureka_embed.testing import memory_registry
from eureka_embed.wsgi import create_app
from tests.reliability.live import NODE_KINDS, LiveNode, live_node
from tests.server.support import register

pytestmark = pytest.mark.slow

#: Generated requests per operation and node kind: 26 operations x 4 nodes x this.
EXAMPLES = 12

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _document() -> dict[str, Any]:
    # The same document every live node serves (test_served_document_is_this_one checks it).
    import falcon.testing

    registry = memory_registry()
    try:
        answer = falcon.testing.TestClient(create_app(registry)).simulate_get(
            "/eureka/openapi.json"
        )
        document: dict[str, Any] = answer.json
        return document
    finally:
        registry.close()


DOCUMENT = _document()


def _fuzzed(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with ``wait`` bounded to under a second: a generated watch that hit the
    current index would otherwise hold its request for minutes (the server's true limit)."""
    fuzzed = copy.deepcopy(document)
    for item in fuzzed["paths"].values():
        for operation in item.values():
            for parameter in operation["parameters"]:
                if parameter["name"] == "wait":
                    parameter["schema"] = {"type": "string", "pattern": "^[0-9]{1,3}ms$"}
    return fuzzed


# /eureka/v2 serves the same routes as /eureka (one table of routes under every base path),
# so fuzzing one base path covers the endpoints at half the time; the root-level routes and
# the document itself are fuzzed too.
schema = schemathesis.openapi.from_dict(_fuzzed(DOCUMENT)).exclude(path_regex="^/eureka/v2/")


@pytest.fixture(scope="module", params=NODE_KINDS, ids="-".join)
def node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveNode]:
    server, store = request.param
    with live_node(server, store, tmp_path_factory.mktemp("store")) as live:
        # Something to find: generated ids rarely hit a registered one, these are the names
        # schemathesis's examples and short strings land on most.
        for app in ("ORDERS", "0", "A"):
            assert register(live.base_url, app, "i1") == 204
        yield live


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as made:
        yield made


def test_served_document_is_this_one(node: LiveNode) -> None:
    for base in ("/eureka", "/eureka/v2"):
        served = requests.get(f"{node.root_url}{base}/openapi.json", timeout=10)
        assert served.status_code == 200
        assert served.json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    suppress_health_check=list(HealthCheck),
    deadline=None,
    derandomize=True,
)
def test_api(case: schemathesis.Case[Any], node: LiveNode, session: requests.Session) -> None:
    # Watches are held up to ?wait=; the document bounds wait to 999 ms.
    case.call_and_validate(base_url=node.root_url, session=session, checks=CHECKS, timeout=10)
