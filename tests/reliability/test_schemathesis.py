"""schemathesis against live servers (waitress and uvicorn, memory and SQLite stores): every
operation of the OpenAPI document, a bounded number of generated requests each, with the checks
for server errors, status codes, content types and response schemas. Any failure is a bug in
the server or in the document."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from defusedxml import ElementTree
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, Response
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

#: Generated requests per operation and node kind (18 operations, 4 nodes), besides the
#: explicit examples and schemathesis's coverage cases.
#: ``EUREKA_EMBED_FUZZ_EXAMPLES`` raises it for a longer hunt than CI's.
EXAMPLES = int(os.environ.get("EUREKA_EMBED_FUZZ_EXAMPLES", "12"))


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


#: Parameters whose generated values are narrowed for the fuzzer. ``wait``: a generated watch
#: that hit the current index would otherwise hold its request for minutes (the server's true
#: limit). ``Accept``: any text is XML to the server, and random text almost never says json,
#: so without this the JSON answers (the ones schemathesis validates) would hardly be seen.
NARROWED: dict[str, dict[str, Any]] = {
    "wait": {"type": "string", "pattern": "^[0-9]{1,3}ms$"},
    "Accept": {"enum": ["application/json", "application/xml", "*/*", "text/json;q=0.5"]},
    "X-Eureka-Accept": {"enum": ["compact", "full"]},
}


def _fuzzed(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the :data:`NARROWED` parameters."""
    fuzzed = copy.deepcopy(document)
    for item in fuzzed["paths"].values():
        for operation in item.values():
            for parameter in operation["parameters"]:
                if parameter["name"] in NARROWED:
                    parameter["schema"] = NARROWED[parameter["name"]]
    return fuzzed


@schemathesis.check
def xml_answers_parse(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """An XML answer is a well-formed document (schemathesis validates JSON answers only)."""
    content_type = response.headers.get("content-type", [""])[0]
    if "xml" in content_type and response.content:
        ElementTree.fromstring(response.content)
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    xml_answers_parse,
]


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
def test_api(case: Case[Any], node: LiveNode, session: requests.Session) -> None:
    # Watches are held up to ?wait=; the document bounds wait to 999 ms.
    case.call_and_validate(base_url=node.root_url, session=session, checks=CHECKS, timeout=10)
