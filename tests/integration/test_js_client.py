"""eureka-js-client, the npm Eureka client, against a live ``eureka-embed serve``.

Needs node and npm; skipped without them unless EUREKA_EMBED_REQUIRE names ``node``. The pinned
client (js/package-lock.json) is installed into js/node_modules on first use.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.requirements import require
from tests.integration.scenario import scenario
from tests.server.support import ServeProcess, app_instances, live_instance, wait_for

JS_DIR = Path(__file__).with_name("js")


@pytest.fixture
def node() -> str:
    """The node executable, with the pinned client installed (before any server starts)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    require("node", node is not None, "node is not on PATH")
    require("node", npm is not None, "npm is not on PATH")
    assert node is not None and npm is not None
    if not (JS_DIR / "node_modules" / "eureka-js-client").is_dir():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return node


def _renewed(base: str, app: str, instance_id: str) -> bool:
    found = live_instance(base, app, instance_id)
    lease = found["leaseInfo"] if found else None
    return lease is not None and lease["lastRenewalTimestamp"] > lease["registrationTimestamp"]


def test_register_heartbeat_fetch_delta_find_and_deregister(
    node: str, live_server: ServeProcess
) -> None:
    base = live_server.base_url
    with scenario([node, "scenario.js", base], cwd=JS_DIR) as run:
        # ORDERS fetched the full registry before INVENTORY registered...
        assert run.expect("started") == {
            "event": "started",
            "client": "orders",
            "apps": ["JS-ORDERS"],
        }
        assert run.expect("started")["client"] == "inventory"
        # ... so it found INVENTORY through a delta.
        found = run.expect("found")["instance"]
        assert found["instanceId"] == "127.0.0.1:js-inventory:9002"
        assert (found["status"], found["actionType"]) == ("UP", "ADDED")
        assert found["port"]["$"] == 9002

        [inventory] = app_instances(base, "JS-INVENTORY")
        assert (inventory["vipAddress"], inventory["hostName"]) == ("js-inventory", "127.0.0.1")
        assert inventory["statusPageUrl"] == "http://127.0.0.1:9002/info"
        wait_for(
            lambda: _renewed(base, "JS-INVENTORY", "127.0.0.1:js-inventory:9002"),
            what="a heartbeat to renew JS-INVENTORY's lease",
        )

        run.send("stop-inventory")
        assert run.expect("deregistered")["client"] == "inventory"
        assert app_instances(base, "JS-INVENTORY") == []
        # ORDERS' next delta carries the cancel.
        run.expect("gone")

        run.send("stop")
        assert run.expect("deregistered")["client"] == "orders"
        assert run.finish() == 0

    assert app_instances(base, "JS-ORDERS") == []
    asked = {(r["app"], r["method"], r["uri"]) for r in run.events("request")}
    assert ("JS-ORDERS", "GET", "") in asked  # the full registry, once
    assert ("JS-ORDERS", "GET", "delta") in asked
    assert ("JS-INVENTORY", "DELETE", "JS-INVENTORY/127.0.0.1:js-inventory:9002") in asked
    beats = run.events("heartbeat")
    for client in ("orders", "inventory"):
        assert sum(1 for b in beats if b["client"] == client) >= 2
