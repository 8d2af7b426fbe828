"""schemathesis against live servers (waitress and uvicorn, memory and SQLite stores): every
operation of the OpenAPI document, a bounded number of generated requests each, with the checks
for server errors, status codes, content types and response schemas. Any failure is a bug in
the server or in the document.

Then again against nodes with a credentials file (:data:`AUTH_NODE_KINDS`), from the document
they serve (HTTP Basic on every operation, 401/403/429 listed), every request sent as a user
with every role: the guard must let each through to the endpoint (never 401 or 429), and the
endpoints must answer as documented behind it."""

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
from tests.reliability.auth_users import FUZZER, as_fuzzer, basic_auth
from tests.reliability.live import AUTH_NODE_KINDS, NODE_KINDS, LiveNode, live_node
from tests.server.support import JSON_HEADERS, register_body

pytestmark = pytest.mark.slow

#: Generated requests per operation and node kind (18 operations, 4 + 2 nodes), besides the
#: explicit examples and schemathesis's coverage cases.
#: ``EUREKA_EMBED_FUZZ_EXAMPLES`` raises it for a longer hunt than CI's.
EXAMPLES = int(os.environ.get("EUREKA_EMBED_FUZZ_EXAMPLES", "12"))


def _document(**options: Any) -> dict[str, Any]:
    # The same document every live node serves (test_served_document_is_this_one checks it).
    import falcon.testing

    registry = memory_registry()
    try:
        answer = falcon.testing.TestClient(create_app(registry, **options)).simulate_get(
            "/eureka/openapi.json"
        )
        document: dict[str, Any] = answer.json
        return document
    finally:
        registry.close()


DOCUMENT = _document()
FUZZER_AUTHORIZATION = as_fuzzer()["Authorization"]
#: What a node with the credentials file serves (the same users and anonymous roles).
AUTH_DOCUMENT = _document(auth=basic_auth())


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


@schemathesis.check
def credentials_accepted(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """With auth: the fuzzer's user (every role, the right password) is let through by the
    guard on every server path, the ASGI heartbeat's included. schemathesis's coverage cases
    that leave the credentials out (to see them required) are answered 401, as documented."""
    sent = response.request.headers.get("Authorization")
    if sent is None:
        assert response.status_code == 401, response.text
    else:
        assert sent == FUZZER_AUTHORIZATION, "schemathesis sent credentials of its own"
        assert response.status_code not in (401, 429), response.text
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
auth_schema = schemathesis.openapi.from_dict(_fuzzed(AUTH_DOCUMENT)).exclude(
    path_regex="^/eureka/v2/"
)


def _started(
    kind: tuple[str, str], tmp_path_factory: pytest.TempPathFactory, *, auth: bool
) -> Iterator[LiveNode]:
    server, store = kind
    with live_node(server, store, tmp_path_factory.mktemp("store"), auth=auth) as live:
        # Something to find: generated ids rarely hit a registered one, these are the names
        # schemathesis's examples and short strings land on most.
        for app in ("ORDERS", "0", "A"):
            answer = requests.post(
                f"{live.base_url}apps/{app}",
                data=register_body(app, "i1"),
                headers=JSON_HEADERS,
                auth=FUZZER if auth else None,
                timeout=10,
            )
            assert answer.status_code == 204, answer.text
        yield live


@pytest.fixture(scope="module", params=NODE_KINDS, ids="-".join)
def node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveNode]:
    yield from _started(request.param, tmp_path_factory, auth=False)


@pytest.fixture(scope="module", params=AUTH_NODE_KINDS, ids=lambda kind: "-".join(kind) + "-auth")
def auth_node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveNode]:
    yield from _started(request.param, tmp_path_factory, auth=True)


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as made:
        yield made


@pytest.fixture(scope="module")
def fuzzer_session() -> Iterator[requests.Session]:
    """Sends the fuzzer's credentials on every request: requests puts them in place of any
    Authorization schemathesis generates (or leaves out, in its coverage cases)."""
    with requests.Session() as made:
        made.auth = FUZZER
        yield made


def _assert_serves(node: LiveNode, document: dict[str, Any]) -> None:
    for base in ("/eureka", "/eureka/v2"):
        # No credentials: the document is open, also where nothing else is.
        served = requests.get(f"{node.root_url}{base}/openapi.json", timeout=10)
        assert served.status_code == 200
        assert served.json() == document


def test_served_document_is_this_one(node: LiveNode) -> None:
    _assert_serves(node, DOCUMENT)


def test_served_document_with_auth_is_this_one(auth_node: LiveNode) -> None:
    _assert_serves(auth_node, AUTH_DOCUMENT)
    # The node is closed: what the document says of requests without credentials.
    assert requests.get(f"{auth_node.base_url}apps", timeout=10).status_code == 401


FUZZING = settings(
    max_examples=EXAMPLES,
    suppress_health_check=list(HealthCheck),
    deadline=None,
    derandomize=True,
)
#: Behind the guard the same endpoints answer, fuzzed in full above: half the generated
#: requests (the coverage cases, those without credentials among them, all run).
FUZZING_WITH_AUTH = settings(FUZZING, max_examples=max(1, EXAMPLES // 2))


@schema.parametrize()
@FUZZING
def test_api(case: Case[Any], node: LiveNode, session: requests.Session) -> None:
    # Watches are held up to ?wait=; the document bounds wait to 999 ms.
    case.call_and_validate(base_url=node.root_url, session=session, checks=CHECKS, timeout=10)


@auth_schema.parametrize()
@FUZZING_WITH_AUTH
def test_api_with_auth(
    case: Case[Any], auth_node: LiveNode, fuzzer_session: requests.Session
) -> None:
    case.call_and_validate(
        base_url=auth_node.root_url,
        session=fuzzer_session,
        checks=[*CHECKS, credentials_accepted],
        timeout=10,
    )
