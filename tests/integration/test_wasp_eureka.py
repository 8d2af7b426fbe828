"""wasp-eureka, an asyncio Eureka client from PyPI, through its whole lifecycle against a live
``eureka-embed serve``: register, renew, fetch (apps, app, instance, by id, by VIP), status
override and its removal, a metadata update, deregister.

The library decodes every answer with aiohttp's ``json()``, which refuses an answer whose
Content-Type is not JSON, bodiless 200s and 204s included (Netflix Eureka sends the negotiated
type on those too).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.scenario import Scenario, scenario
from tests.server.support import ServeProcess, app_instances, child_env, live_instance, wait_for

SCRIPT = Path(__file__).with_name("wasp_client_scenario.py")
APP = "WASP-ORDERS"
INSTANCE_ID = "wasp-1:wasp-orders:8080"  # as the scenario registers it


@pytest.fixture(autouse=True)
def _client_installed() -> None:
    if importlib.util.find_spec("wasp_eureka") is None:
        pytest.fail("wasp-eureka is missing: it is in the test extra (pip install '.[test]')")


@pytest.fixture
def wasp(live_server: ServeProcess) -> Iterator[Scenario]:
    root_url = live_server.base_url.rstrip("/").removesuffix("/eureka")  # the library adds it
    with scenario([sys.executable, str(SCRIPT), root_url], env=child_env()) as running:
        running.expect("started")
        yield running


def step(wasp: Scenario, command: str) -> Any:
    """Run one library call in the scenario; what it returned (an ``error`` event fails)."""
    wasp.send(command)
    return wasp.expect(command.split(maxsplit=1)[0])["result"]


def failed_step(wasp: Scenario, command: str) -> dict[str, Any]:
    """Run one library call that must raise; the ``error`` event it reported."""
    wasp.send(command)
    line = wasp.stdout.wait_for(
        rf'"event":\s*"(?:{command.split(maxsplit=1)[0]}|error)"', 20.0
    ).string
    found: dict[str, Any] = json.loads(line)
    assert found["event"] == "error", f"{command} was expected to fail: {found}"
    return found


def stored(base: str) -> dict[str, Any]:
    found = live_instance(base, APP, INSTANCE_ID)
    assert found is not None, f"{INSTANCE_ID} is not registered"
    return found


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_register_renew_fetch_override_and_deregister(
    live_server: ServeProcess, wasp: Scenario
) -> None:
    base = live_server.base_url

    assert step(wasp, "register") is None  # a bodiless 204, decoded as "no JSON"
    registered = stored(base)
    assert (registered["app"], registered["hostName"], registered["ipAddr"]) == (
        APP,
        "localhost",
        "127.0.0.1",
    )
    assert registered["status"] == "UP"  # the library sends no status: Eureka's default
    assert registered["port"] == {"$": 8080, "@enabled": "true"}  # sent as a JSON boolean
    assert registered["metadata"] == {"zone": "zone-a"}
    assert registered["healthCheckUrl"] == "http://127.0.0.1:8080/health"
    lease = registered["leaseInfo"]
    assert (lease["durationInSecs"], lease["renewalIntervalInSecs"]) == (30, 15)

    # The server and this test share the clock: once it has moved past the registration, a
    # renewal can only be stamped later than the registration.
    registered_at = lease["registrationTimestamp"]
    wait_for(lambda: now_ms() > registered_at or None, what="the clock to move")
    assert step(wasp, "renew") is None
    assert stored(base)["leaseInfo"]["lastRenewalTimestamp"] > registered_at

    [listed] = [a for a in step(wasp, "apps")["applications"]["application"] if a["name"] == APP]
    assert [i["instanceId"] for i in listed["instance"]] == [INSTANCE_ID]
    application = step(wasp, "app")["application"]
    assert (application["name"], len(application["instance"])) == (APP, 1)
    assert step(wasp, "instance")["instance"]["instanceId"] == INSTANCE_ID
    assert step(wasp, "instance-by-id")["instance"]["instanceId"] == INSTANCE_ID
    [by_vip] = step(wasp, "vip")["applications"]["application"]
    assert [i["vipAddress"] for i in by_vip["instance"]] == ["wasp-orders"]

    assert step(wasp, "status OUT_OF_SERVICE") is None
    overridden = step(wasp, "instance")["instance"]
    assert (overridden["status"], overridden["overriddenStatus"]) == ("OUT_OF_SERVICE",) * 2
    assert step(wasp, "remove-status") is None
    released = stored(base)
    assert released["overriddenStatus"] == "UNKNOWN"
    assert released["status"] != "OUT_OF_SERVICE"

    assert step(wasp, "metadata color blue") is None
    assert stored(base)["metadata"] == {"zone": "zone-a", "color": "blue"}

    assert step(wasp, "deregister") is None
    assert app_instances(base, APP) == []
    # Gone for the library too: its fetch and its heartbeat get Eureka's 404.
    assert failed_step(wasp, "app")["status"] == 404
    assert failed_step(wasp, "renew")["status"] == 404

    wasp.send("stop")
    wasp.expect("stopped")
    assert wasp.finish() == 0
