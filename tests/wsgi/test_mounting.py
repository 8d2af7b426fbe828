"""The registry mounted under a prefix of another WSGI app (``examples/embed_in_wsgi_app.py``)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import falcon.testing
import pytest

from eureka_embed.registry import Registry
from tests.wsgi.helpers import JSON, instance_id, json_body, json_of

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "embed_in_wsgi_app.py"
ID1 = instance_id(1)


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("embed_in_wsgi_app", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = _load_example()


@pytest.fixture(params=["falcon-host", "dispatcher"])
def mounted(request: pytest.FixtureRequest) -> tuple[falcon.testing.TestClient, Registry, str]:
    """(client of the host app, the mounted registry, what the host's own route answers)."""
    registry = Registry()
    if request.param == "falcon-host":
        return falcon.testing.TestClient(example.build_falcon_host(registry)), registry, "/hello"
    return falcon.testing.TestClient(example.build_dispatcher(registry)), registry, "/"


def test_the_example_runs_as_a_script() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}

    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok" in done.stdout


@pytest.mark.parametrize("base", ["/registry/eureka", "/registry/eureka/v2"])
def test_every_kind_of_call_works_through_the_mount(
    mounted: tuple[falcon.testing.TestClient, Registry, str], base: str
) -> None:
    client, registry, _ = mounted

    registered = client.simulate_post(
        f"{base}/apps/ORDERS", body=json_body(), headers={"Content-Type": "application/json"}
    )
    beat = client.simulate_put(f"{base}/apps/ORDERS/{ID1.replace(':', '%3A')}")
    status = client.simulate_put(f"{base}/apps/ORDERS/{ID1}/status", params={"value": "DOWN"})
    full = client.simulate_get(f"{base}/apps/", headers={**JSON, "Accept-Encoding": "gzip"})

    assert (registered.status_code, beat.status_code, status.status_code) == (204, 200, 200)
    assert full.headers["Content-Encoding"] == "gzip"
    application = json_of(full)["applications"]["application"][0]
    assert application["instance"][0]["status"] == "DOWN"
    stored = registry.get_instance("ORDERS", ID1)
    assert stored is not None

    cancelled = client.simulate_delete(f"{base}/apps/ORDERS/{ID1}")
    assert cancelled.status_code == 200
    assert registry.get_instance("ORDERS", ID1) is None


def test_dashboard_metrics_and_errors_through_the_mount(
    mounted: tuple[falcon.testing.TestClient, Registry, str],
) -> None:
    client, _, _ = mounted

    for path in ("/registry", "/registry/"):
        page = client.simulate_get(path)
        assert page.status_code == 200
        assert "Instances</h2>" in page.text
    assert client.simulate_get("/registry/dashboard/data").status_code == 200
    assert "eureka_instances" in client.simulate_get("/registry/metrics").text
    # The registry's own errors come back unchanged.
    bad = client.simulate_post(
        "/registry/eureka/apps/ORDERS", body=b"{", headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 400
    assert "JSON" in bad.text
    assert client.simulate_get("/registry/eureka/nothing").status_code == 404


def test_the_host_keeps_its_own_routes(
    mounted: tuple[falcon.testing.TestClient, Registry, str],
) -> None:
    client, _, host_path = mounted

    result = client.simulate_get(host_path)

    assert result.status_code == 200
    assert "host app" in result.text


def test_a_path_that_merely_starts_like_the_prefix_is_not_the_registrys(
    mounted: tuple[falcon.testing.TestClient, Registry, str],
) -> None:
    client, _, _ = mounted

    result = client.simulate_get("/registryfoo/eureka/apps")

    assert "applications" not in result.text


def test_the_mounted_app_sees_script_name_and_path_info_shifted() -> None:
    seen: list[tuple[str, str]] = []

    def spy(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen.append((environ["SCRIPT_NAME"], environ["PATH_INFO"]))
        start_response("204 No Content", [])
        return []

    def host(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen.append(("host", environ["PATH_INFO"]))
        start_response("204 No Content", [])
        return []

    dispatcher = example.PrefixDispatcher({"/registry": spy, "/registry/inner": spy}, host)
    client = falcon.testing.TestClient(dispatcher)
    for path in ("/registry/eureka/apps/", "/registry", "/registry/inner/x", "/registryx", "/"):
        client.simulate_get(path)

    assert seen == [
        ("/registry", "/eureka/apps/"),
        ("/registry", ""),
        ("/registry/inner", "/x"),
        ("host", "/registryx"),
        ("host", "/"),
    ]
