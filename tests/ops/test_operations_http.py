"""Probes, ASG status, status overrides, Eureka's StatusInfo, the fetch limit: both adapters."""

from __future__ import annotations

import falcon.testing
import orjson
import pytest

from eureka_embed.asg_status import AsgStatus
from eureka_embed.asgi.app import falcon_asgi_app
from eureka_embed.clock import ManualClock
from eureka_embed.errors import StorageUnavailable
from eureka_embed.http.api import EurekaApi
from eureka_embed.http.fetch_limit import FetchRateLimit
from eureka_embed.http.probes import Readiness
from eureka_embed.model import InstanceStatus
from eureka_embed.registry import Registry
from eureka_embed.storage.memory import MemoryStore
from eureka_embed.wsgi.app import falcon_app
from tests.auth.support import basic_auth
from tests.registry.helpers import instance
from tests.wsgi.adapters import AppFactory

JSON = {"Accept": "application/json"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def registry(clock: ManualClock) -> Registry:
    return Registry(clock=clock)


def client(
    create_app: AppFactory, registry: Registry, **options: object
) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(registry, **options))


class _DownStore(MemoryStore):
    """A store whose database does not answer (what the SQL stores' ``sync`` raises then)."""

    def sync(self) -> None:
        raise StorageUnavailable("the database cannot be reached: connection refused")


def test_probes_answer_without_credentials_when_auth_is_on(
    create_app: AppFactory, registry: Registry
) -> None:
    app = client(create_app, registry, auth=basic_auth())
    assert app.simulate_get("/healthz").status_code == 200
    assert app.simulate_get("/readyz").text == "ready\n"
    assert app.simulate_get("/eureka/apps").status_code == 401  # the rest stays closed


def test_readyz_is_503_with_the_reason_while_the_store_is_down(create_app: AppFactory) -> None:
    registry = Registry(_DownStore())
    app = client(create_app, registry)
    ready = app.simulate_get("/readyz", headers=JSON)
    assert ready.status_code == 503
    assert "connection refused" in ready.text
    assert app.simulate_get("/healthz").status_code == 200
    status = app.simulate_get("/eureka/status", headers=JSON).json["status"]
    assert status["isHealthy"] is False
    assert "connection refused" in status["notReady"]


@pytest.mark.parametrize("mount", [falcon_app, falcon_asgi_app], ids=["wsgi", "asgi"])
def test_readyz_is_503_while_a_start_up_copy_runs(mount: object, registry: Registry) -> None:
    api = EurekaApi(registry, readiness=Readiness(registry.store))
    app = falcon.testing.TestClient(mount(api))  # type: ignore[operator]
    with api.readiness.startup_copy():
        api.readiness.copy_progress("asking http://b:8761/eureka/, peer 1 of 2")
        copying = app.simulate_get("/readyz", headers=JSON)
        # Eureka's shouldAllowAccess: no full or delta fetch of a half-copied registry.
        full = app.simulate_get("/eureka/apps", headers=JSON)
        delta = app.simulate_get("/eureka/apps/delta", headers=JSON)
        one_app = app.simulate_get("/eureka/apps/ORDERS", headers=JSON)
    assert copying.status_code == 503
    assert "start-up copy from peers in progress (asking http://b:8761/eureka/" in copying.text
    assert (full.status_code, delta.status_code) == (403, 403)
    assert "start-up copy" in full.text
    assert one_app.status_code == 404  # other reads are served, as in Eureka
    assert app.simulate_get("/readyz").status_code == 200
    assert app.simulate_get("/eureka/apps", headers=JSON).status_code == 200


def test_status_has_eurekas_status_info_beside_our_fields(
    create_app: AppFactory, registry: Registry
) -> None:
    peers = [
        {"url": "http://a:8761/eureka/", "status": "UP"},
        {"url": "http://b/eureka/", "status": "DOWN"},
    ]
    app = client(create_app, registry, peers_status=lambda: peers)
    status = app.simulate_get("/eureka/status", headers=JSON).json["status"]
    assert status["applicationStats"] == {
        "registered-replicas": "http://a:8761/eureka/, http://b/eureka/",
        "available-replicas": "http://a:8761/eureka/,",
        "unavailable-replicas": "http://b/eureka/,",
    }
    general = status["generalStats"]
    assert set(general) == {
        "server-uptime",
        "environment",
        "num-of-cpus",
        "total-avail-memory",
        "current-memory-usage",
    }
    assert general["server-uptime"] == "00:00"
    assert general["total-avail-memory"].endswith("mb")
    assert status["isHealthy"] is True
    assert status["instanceInfo"]["status"] == "UP"
    assert status["renewsThreshold"] >= 0  # ours, still there
    xml = app.simulate_get("/eureka/status", headers={"Accept": "application/xml"}).text
    assert (
        "<registered-replicas>http://a:8761/eureka/, http://b/eureka/</registered-replicas>" in xml
    )


def test_statusoverrides_maps_instance_ids_to_their_override(
    create_app: AppFactory, registry: Registry
) -> None:
    registry.register(instance(1))
    registry.register(instance(2))
    registry.update_status("ORDERS", "host1:orders:8080", InstanceStatus.OUT_OF_SERVICE)
    app = client(create_app, registry)
    answer = app.simulate_get("/eureka/v2/serverinfo/statusoverrides")
    assert answer.status_code == 200
    assert orjson.loads(answer.content) == {"host1:orders:8080": "OUT_OF_SERVICE"}


def test_put_asg_status_disables_the_asgs_instances(
    create_app: AppFactory, registry: Registry
) -> None:
    registry.register(instance(1, asg_name="orders-v1"))
    app = client(create_app, registry)
    answer = app.simulate_put("/eureka/asg/orders-v1/status", params={"value": "disabled"})
    assert answer.status_code == 200
    assert registry.asg_statuses.get("orders-v1") is AsgStatus.DISABLED
    shown = app.simulate_get("/eureka/apps/ORDERS/host1:orders:8080", headers=JSON)
    assert shown.json["instance"]["status"] == "OUT_OF_SERVICE"


@pytest.mark.parametrize("query", [{}, {"value": "UP"}])
def test_put_asg_status_without_a_status_is_a_400_with_the_choices(
    create_app: AppFactory, registry: Registry, query: dict[str, str]
) -> None:
    answer = client(create_app, registry).simulate_put("/eureka/asg/a/status", params=query)
    assert answer.status_code == 400
    assert "ENABLED or DISABLED" in answer.text


def test_fetches_beyond_the_burst_are_503_and_privileged_clients_pass(
    create_app: AppFactory, registry: Registry, clock: ManualClock
) -> None:
    limit = FetchRateLimit(burst=2, fetch_rate=1, full_fetch_rate=1, privileged_clients=["ops"])
    app = client(create_app, registry, fetch_limit=limit)
    custom = {**JSON, "DiscoveryIdentity-Name": "curl"}
    assert [app.simulate_get("/eureka/apps", headers=custom).status_code for _ in range(3)] == [
        200,
        200,
        503,
    ]
    assert app.simulate_get("/eureka/apps/delta", headers=custom).status_code == 503
    for name in ("DefaultClient", "DefaultServer", "ops"):
        headers = {**JSON, "DiscoveryIdentity-Name": name}
        assert app.simulate_get("/eureka/apps", headers=headers).status_code == 200
    clock.advance(seconds=1)  # one token back in each bucket
    assert app.simulate_get("/eureka/apps/delta", headers=custom).status_code == 200
    refused = app.simulate_get("/eureka/apps", headers=custom)  # the delta took the token
    assert refused.status_code == 503
    assert refused.headers["Retry-After"]


def test_throttling_standard_clients_leaves_none_privileged(
    create_app: AppFactory, registry: Registry
) -> None:
    limit = FetchRateLimit(burst=1, throttle_standard_clients=True, privileged_clients=["ops"])
    app = client(create_app, registry, fetch_limit=limit)
    for name in ("DefaultClient", "ops"):
        headers = {**JSON, "DiscoveryIdentity-Name": name}
        app.simulate_get("/eureka/apps/delta", headers=headers)
    assert app.simulate_get("/eureka/apps/delta", headers=headers).status_code == 503


def test_without_a_limit_fetches_are_never_refused(
    create_app: AppFactory, registry: Registry
) -> None:
    app = client(create_app, registry)
    assert {app.simulate_get("/eureka/apps", headers=JSON).status_code for _ in range(30)} == {200}
