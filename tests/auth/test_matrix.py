"""Every endpoint (both base paths) x every kind of caller, on both adapters.

The expected statuses are written out here by hand, from the role table of issue 13, not
computed by the code under test: a broken rule shows as a wrong status in one cell.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, NamedTuple

import falcon.testing
import pytest

from eureka_embed.clock import ManualClock
from eureka_embed.codec import WireFormat, decode_instance
from eureka_embed.config import RegistryConfig
from eureka_embed.registry import Registry
from tests.auth.support import authorization, basic_auth
from tests.wsgi.adapters import ADAPTERS
from tests.wsgi.helpers import BASES, instance_id, json_body

REPLICATION: Final = {"x-netflix-discovery-replication": "true"}


class Call(NamedTuple):
    method: str
    path: str  # below the base path; "/..." is absolute
    #: What it touches: "read", "ORDERS" / "OTHER" (a write), "batch", "asg" (an operator's
    #: action that peers replicate).
    kind: str
    #: The status when allowed.
    ok: int
    body: bytes = b""
    query: str = ""


def _calls() -> list[Call]:
    calls = [
        Call("GET", "apps", "read", 200),
        Call("GET", "apps/delta", "read", 200),
        Call("GET", "apps/ORDERS", "read", 200),
        Call("GET", f"apps/ORDERS/{instance_id(1)}", "read", 200),
        Call("GET", f"instances/{instance_id(1)}", "read", 200),
        Call("GET", "vips/orders", "read", 200),
        Call("GET", "svips/orders-secure", "read", 200),
        Call("GET", "status", "read", 200),
        Call("POST", "peerreplication/batch", "batch", 200, b'{"replicationList": []}'),
        Call("PUT", "asg/orders-asg/status", "asg", 200, query="value=DISABLED"),
    ]
    for app, n in (("ORDERS", 1), ("OTHER", 2)):
        iid = instance_id(n, app)
        calls += [
            Call("POST", f"apps/{app}", app, 204, json_body(n, app)),
            Call("PUT", f"apps/{app}/{iid}", app, 200),
            Call("DELETE", f"apps/{app}/{iid}", app, 200),
            Call("PUT", f"apps/{app}/{iid}/status", app, 200, query="value=OUT_OF_SERVICE"),
            Call("DELETE", f"apps/{app}/{iid}/status", app, 200),
            Call("PUT", f"apps/{app}/{iid}/metadata", app, 200, query="zone=b"),
        ]
    return calls


CALLS: Final = _calls()
ROOT_CALLS: Final = [Call("GET", "/", "read", 200), Call("GET", "/metrics", "read", 200)]

OK = "ok"


class Caller(NamedTuple):
    headers: Mapping[str, str]
    #: The answer by kind of call: OK for the endpoint's own, else a status.
    expect: Mapping[str, int | str]
    anonymous: tuple[str, ...] = ()


def _all(value: int | str) -> dict[str, int | str]:
    return dict.fromkeys(("read", "ORDERS", "OTHER", "batch", "asg"), value)


CALLERS: Final = {
    "anonymous": Caller({}, _all(401)),
    "anonymous-read": Caller({}, {**_all(401), "read": OK}, ("read",)),
    "wrong-password": Caller(authorization("ops", "guess"), _all(401)),
    "unknown-user": Caller({"Authorization": "Basic bm9ib2R5OnB3"}, _all(401)),
    "not-basic": Caller({"Authorization": "Bearer abc"}, _all(401)),
    "reader": Caller(authorization("reader"), {**_all(403), "read": OK}),
    "register": Caller(authorization("orders"), {**_all(403), "read": OK, "ORDERS": OK}),
    "admin": Caller(authorization("ops"), {**_all(OK), "batch": 403}),
    "peer": Caller(authorization("eureka-peer"), {**_all(403), "read": OK, "batch": OK}),
    "peer-replicating": Caller({**authorization("eureka-peer"), **REPLICATION}, _all(OK)),
    "admin-replicating": Caller({**authorization("ops"), **REPLICATION}, _all(403)),
    "register-replicating": Caller({**authorization("orders"), **REPLICATION}, _all(403)),
    "anonymous-replicating": Caller(REPLICATION, _all(401), ("read",)),
}


@pytest.fixture(scope="module")
def auths() -> dict[tuple[str, ...], object]:
    # One BasicAuth per anonymous setting for the whole module (building one hashes a dummy);
    # the brute-force window is the subject of test_brute_force.py, not of this table.
    never = 10**9
    return {
        (): basic_auth(max_failures=never),
        ("read",): basic_auth(("read",), max_failures=never),
    }


def _reset(registry: Registry) -> None:
    """Both instances registered as at the start (in-process calls are not subject to auth)."""
    for n, app in ((1, "ORDERS"), (2, "OTHER")):
        registry.register(decode_instance(json_body(n, app), WireFormat.JSON, now_ms=1000))


def _mismatch(
    client: falcon.testing.TestClient, caller: Caller, call: Call, path: str
) -> str | None:
    """What is wrong with the answer to ``call`` by ``caller``, or None."""
    headers = {**caller.headers}
    if call.body:
        headers["Content-Type"] = "application/json"
    result = client.simulate_request(
        call.method, path, headers=headers, body=call.body or None, query_string=call.query
    )
    wanted = caller.expect[call.kind]
    expected = call.ok if wanted == OK else wanted
    where = f"{call.method} {path}"
    if result.status_code != expected:
        return f"{where}: {result.status_code} (wanted {expected}) {result.text.strip()}"
    if expected == 401 and result.headers.get("www-authenticate") != 'Basic realm="eureka"':
        return f"{where}: 401 without the Basic challenge"
    if expected == 403 and not result.text.strip():
        return f"{where}: 403 without a reason"
    return None


# One test per adapter and caller, every call in it: ~1,200 cells as separate tests cost
# pytest more than the calls themselves. Every wrong cell is listed in the failure.
@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
@pytest.mark.parametrize("name", sorted(CALLERS))
def test_every_endpoint(adapter: str, name: str, auths: Mapping[tuple[str, ...], object]) -> None:
    caller = CALLERS[name]
    registry = Registry(config=RegistryConfig(self_preservation=False), clock=ManualClock())
    client = falcon.testing.TestClient(ADAPTERS[adapter](registry, auth=auths[caller.anonymous]))
    cells = [(call, f"{base}/{call.path}") for base in BASES for call in CALLS]
    cells += [(call, call.path) for call in ROOT_CALLS]
    wrong = []
    try:
        for call, path in cells:
            _reset(registry)
            mismatch = _mismatch(client, caller, call, path)
            if mismatch is not None:
                wrong.append(mismatch)
    finally:
        registry.close()
    assert wrong == [], "\n".join(wrong)
    assert len(cells) == 2 * len(CALLS) + 2
