"""py_eureka_client, the Python Eureka client from PyPI, against a live ``eureka-embed serve``."""

from __future__ import annotations

import importlib.util
import sys
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.integration.scenario import Scenario, scenario
from tests.server.support import ServeProcess, app_instances, child_env, live_instance, wait_for

SCRIPT = Path(__file__).with_name("py_client_scenario.py")


@pytest.fixture(autouse=True)
def _client_installed() -> None:
    if importlib.util.find_spec("py_eureka_client") is None:
        pytest.fail("py_eureka_client is missing: it is in the test extra (pip install '.[test]')")


def _client(base_url: str, role: str) -> AbstractContextManager[Scenario]:
    return scenario([sys.executable, str(SCRIPT), base_url, role], env=child_env())


def _renewed_since(base: str, app: str, instance_id: str, since_ms: int) -> bool:
    found = live_instance(base, app, instance_id)
    return found is not None and found["leaseInfo"]["lastRenewalTimestamp"] > since_ms


def _requests(run: Scenario, method: str, path_suffix: str) -> list[dict[str, Any]]:
    return [
        r
        for r in run.events("request")
        if r["method"] == method and str(r["path"]).endswith(path_suffix)
    ]


def test_register_heartbeat_fetch_delta_discover_and_cancel(live_server: ServeProcess) -> None:
    base = live_server.base_url
    with ExitStack() as processes:
        caller = processes.enter_context(_client(base, "caller"))
        # The caller fetches the full registry before the greeter registers...
        assert caller.expect("started")["apps"] == ["PY-CALLER"]
        greeter = processes.enter_context(_client(base, "greeter"))
        port = greeter.expect("started")["port"]
        # ... so only a delta can tell it about the greeter, which it then calls.
        assert caller.expect("discovered")["answer"] == "hello from greeter"

        [listed] = app_instances(base, "PY-GREETER")
        assert listed["instanceId"] == f"127.0.0.1:py-greeter:{port}"
        assert (listed["status"], listed["hostName"]) == ("UP", "127.0.0.1")
        assert listed["port"] == {"$": port, "@enabled": "true"}
        wait_for(
            lambda: _renewed_since(
                base,
                "PY-GREETER",
                listed["instanceId"],
                listed["leaseInfo"]["registrationTimestamp"],
            ),
            what="a heartbeat to renew the greeter's lease",
        )

        greeter.send("stop")
        greeter.expect("stopped")
        assert greeter.finish() == 0
        assert app_instances(base, "PY-GREETER") == []
        # The caller's next delta carries the cancel.
        caller.send("wait-gone")
        caller.expect("gone")

        caller.send("stop")
        caller.expect("stopped")
        assert caller.finish() == 0
        assert app_instances(base, "PY-CALLER") == []

    assert _requests(caller, "POST", "/apps/PY-CALLER")
    assert _requests(caller, "GET", "/apps/")
    assert len(_requests(caller, "GET", "/apps/delta")) >= 2
    assert _requests(greeter, "PUT", f"%3A{port}")  # heartbeats, all answered 200 (below)
    assert _requests(greeter, "DELETE", f"%3A{port}")
    for run in (caller, greeter):
        assert [r for r in run.events("request") if r["status"] not in (200, 204)] == []
