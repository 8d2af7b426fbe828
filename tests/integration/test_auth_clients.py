"""Real clients with credentials through ``eureka-embed serve --auth``: py_eureka_client and
eureka-js-client (credentials in the service URL, as both document) and ``DiscoveryClient``.

The scenarios are the ones of test_py_eureka_client.py and test_js_client.py, run against a
server that refuses writes without credentials; anonymous may read, so the scenarios' own
checks (plain GETs) still see the registry. No password may show in the server's log.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from eureka_embed.auth import hash_password
from eureka_embed.client import DiscoveryClient, DiscoveryConfig
from tests.auth.support import CHEAP
from tests.integration import test_js_client, test_py_eureka_client
from tests.integration.test_js_client import node  # noqa: F401  (a fixture)
from tests.server.support import (
    SERVERS,
    ServeProcess,
    app_instances,
    live_instance,
    request,
    wait_for,
)

#: name -> (password, applications it may write)
CLIENTS = {
    "py-client": ("py-pass-5551", ["PY-CALLER", "PY-GREETER"]),
    "js-client": ("js-pass-5552", ["JS-ORDERS", "JS-INVENTORY"]),
    "our-client": ("our-pass-5553", ["OURS"]),
}
SECRETS = [password for password, _ in CLIENTS.values()]


def credentials_file(path: Path) -> Path:
    lines = ['anonymous = ["read"]']
    for name, (password, apps) in CLIENTS.items():
        lines += [
            f"[users.{name}]",
            f'password = "{hash_password(password, CHEAP)}"',
            'roles = ["register"]',
            "apps = [" + ", ".join(f'"{app}"' for app in apps) + "]",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(params=SERVERS)
def auth_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServeProcess]:
    """``serve --auth`` on each HTTP server, logging everything (to look for secrets)."""
    server = ServeProcess(
        [
            "--server",
            request.param,
            "--log-level",
            "debug",
            "--auth",
            str(credentials_file(tmp_path / "auth.toml")),
        ]
    )
    try:
        server.wait_ready()
        yield server
    finally:
        server.terminate()
    log = server.stderr.text()
    for secret in SECRETS:
        assert secret not in log
        assert base64.b64encode(secret.encode()).decode() not in log


def _with_credentials(server: ServeProcess, user: str) -> ServeProcess:
    """``server`` as a scenario sees it: its service URL carries ``user``'s credentials."""
    server.base_url = server.base_url.replace("http://", f"http://{user}:{CLIENTS[user][0]}@")
    return server


def _writes_need_credentials(base_url: str, app: str) -> None:
    plain = base_url.rsplit("@", maxsplit=1)[-1] if "@" in base_url else base_url
    answer = request(f"http://{plain.removeprefix('http://')}apps/{app}/x", "DELETE")
    assert answer.status == 401
    assert answer.headers["www-authenticate"] == 'Basic realm="eureka"'


@pytest.mark.slow
def test_py_eureka_client_with_credentials(auth_server: ServeProcess) -> None:
    _writes_need_credentials(auth_server.base_url, "PY-GREETER")
    test_py_eureka_client.test_register_heartbeat_fetch_delta_discover_and_cancel(
        _with_credentials(auth_server, "py-client")
    )


@pytest.mark.slow
def test_eureka_js_client_with_credentials(node: str, auth_server: ServeProcess) -> None:  # noqa: F811
    _writes_need_credentials(auth_server.base_url, "JS-ORDERS")
    test_js_client.test_register_heartbeat_fetch_delta_find_and_deregister(
        node, _with_credentials(auth_server, "js-client")
    )


@pytest.mark.slow
def test_discovery_client_with_credentials(auth_server: ServeProcess) -> None:
    base = auth_server.base_url
    password = CLIENTS["our-client"][0]
    config = DiscoveryConfig(
        "ours",
        service_urls=base.replace("http://", f"http://our-client:{password}@"),
        port=9100,
        lease_renewal_interval_s=0.2,
        registry_fetch_interval_s=0.2,
    )
    with DiscoveryClient(config) as client:
        [listed] = wait_for(lambda: app_instances(base, "OURS"), what="OURS to register")
        iid, registered = listed["instanceId"], listed["leaseInfo"]["registrationTimestamp"]

        def renewed() -> bool:
            found = live_instance(base, "OURS", iid)
            return found is not None and found["leaseInfo"]["lastRenewalTimestamp"] > registered

        wait_for(renewed, what="a heartbeat with credentials")
        wait_for(lambda: client.get_instances("OURS"), what="the client to see itself")
    assert app_instances(base, "OURS") == []  # cancelled on close, with credentials
