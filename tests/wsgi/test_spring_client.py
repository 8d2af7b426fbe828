"""Requests shaped the way Spring Cloud Netflix's Eureka client sends them.

Spring registers with a Jackson-written JSON body (nulls included, numbers as numbers, booleans
as booleans), sends ``Content-Type: application/json`` even on bodiless PUTs and GETs, heartbeats
with ``status`` and ``lastDirtyTimestamp`` parameters and reads the heartbeat answer as an
optional InstanceInfo, so an empty 200 must still say it is JSON.
"""

from __future__ import annotations

import gzip

import falcon.testing
import orjson

from eureka_embed.clock import ManualClock
from eureka_embed.model import InstanceStatus
from eureka_embed.registry import Registry
from tests.wsgi.helpers import json_of

APP = "SPRING-ORDERS"
ID = "10.1.2.3:spring-orders:8080"
LAST_DIRTY = 1712957014861

SPRING_REGISTER_BODY = orjson.dumps(
    {
        "instance": {
            "instanceId": ID,
            "app": APP,
            "appGroupName": None,
            "ipAddr": "10.1.2.3",
            "sid": "na",
            "homePageUrl": "http://10.1.2.3:8080/",
            "statusPageUrl": "http://10.1.2.3:8080/actuator/info",
            "healthCheckUrl": "http://10.1.2.3:8080/actuator/health",
            "secureHealthCheckUrl": None,
            "vipAddress": "spring-orders",
            "secureVipAddress": "spring-orders",
            "countryId": 1,
            "dataCenterInfo": {
                "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
                "name": "MyOwn",
            },
            "hostName": "10.1.2.3",
            "status": "UP",
            "overriddenStatus": "UNKNOWN",
            "leaseInfo": {
                "renewalIntervalInSecs": 30,
                "durationInSecs": 90,
                "registrationTimestamp": 0,
                "lastRenewalTimestamp": 0,
                "evictionTimestamp": 0,
                "serviceUpTimestamp": 0,
            },
            "isCoordinatingDiscoveryServer": False,
            "metadata": {"management.port": "8080", "zone": None},
            "lastUpdatedTimestamp": LAST_DIRTY + 2,
            "lastDirtyTimestamp": LAST_DIRTY,
            "actionType": None,
            "asgName": None,
            "port": {"$": 8080, "@enabled": "true"},
            "securePort": {"$": 443, "@enabled": "false"},
        }
    }
)

SPRING_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def _register(client: falcon.testing.TestClient) -> falcon.testing.Result:
    return client.simulate_post(
        f"/eureka/apps/{APP}",
        body=SPRING_REGISTER_BODY,
        headers={"Content-Type": "application/json", "Accept-Encoding": "gzip"},
    )


def _heartbeat(client: falcon.testing.TestClient) -> falcon.testing.Result:
    return client.simulate_put(
        f"/eureka/apps/{APP}/{ID}",
        params={"status": "UP", "lastDirtyTimestamp": str(LAST_DIRTY)},
        headers=SPRING_HEADERS,
    )


def test_register_with_nulls_is_accepted(
    client: falcon.testing.TestClient, registry: Registry
) -> None:
    result = _register(client)

    assert result.status_code == 204
    stored = registry.get_instance(APP, ID)
    assert stored is not None
    assert dict(stored.metadata) == {"management.port": "8080"}
    assert stored.app_group_name is None
    assert stored.last_dirty_timestamp == LAST_DIRTY


def test_heartbeat_answers_an_empty_json_200(client: falcon.testing.TestClient) -> None:
    _register(client)

    result = _heartbeat(client)

    assert result.status_code == 200
    assert result.content == b""
    assert result.headers["Content-Type"] == "application/json"


def test_heartbeat_404_leads_to_a_re_registration(
    client: falcon.testing.TestClient, registry: Registry
) -> None:
    assert _heartbeat(client).status_code == 404  # e.g. after a server restart

    assert _register(client).status_code == 204
    assert _heartbeat(client).status_code == 200


def test_full_fetch_then_delta_as_spring_reads_them(
    client: falcon.testing.TestClient, clock: ManualClock
) -> None:
    _register(client)
    full = client.simulate_get(
        "/eureka/apps/", headers={**SPRING_HEADERS, "Accept-Encoding": "gzip"}
    )
    assert full.status_code == 200
    applications = orjson.loads(gzip.decompress(full.content))["applications"]
    # Spring's reader needs lists, never a lone object.
    assert isinstance(applications["application"], list)
    assert isinstance(applications["application"][0]["instance"], list)

    clock.advance(seconds=30)
    client.simulate_put(
        f"/eureka/apps/{APP}/{ID}/status",
        params={"value": "OUT_OF_SERVICE", "lastDirtyTimestamp": str(LAST_DIRTY)},
        headers={"Content-Type": "application/json"},
    )
    delta = client.simulate_get("/eureka/apps/delta", headers=SPRING_HEADERS)

    assert delta.status_code == 200
    changed = json_of(delta)["applications"]["application"][0]["instance"][0]
    assert (changed["status"], changed["actionType"]) == ("OUT_OF_SERVICE", "MODIFIED")
    assert json_of(delta)["applications"]["apps__hashcode"] == "OUT_OF_SERVICE_1_"


def test_override_removal_and_cancel(client: falcon.testing.TestClient, registry: Registry) -> None:
    _register(client)
    client.simulate_put(
        f"/eureka/apps/{APP}/{ID}/status",
        params={"value": "OUT_OF_SERVICE", "lastDirtyTimestamp": str(LAST_DIRTY)},
    )

    removed = client.simulate_delete(
        f"/eureka/apps/{APP}/{ID}/status",
        params={"lastDirtyTimestamp": str(LAST_DIRTY)},
        headers={"Content-Type": "application/json"},
    )
    assert removed.status_code == 200
    stored = registry.get_instance(APP, ID)
    assert stored is not None
    assert stored.status is InstanceStatus.UNKNOWN

    cancelled = client.simulate_delete(f"/eureka/apps/{APP}/{ID}")
    assert cancelled.status_code == 200
    assert registry.get_instance(APP, ID) is None


def test_instance_reads_answer_json(client: falcon.testing.TestClient) -> None:
    _register(client)

    by_app = client.simulate_get(f"/eureka/apps/{APP}/{ID}", headers={"Accept": "application/json"})
    by_id = client.simulate_get(f"/eureka/instances/{ID}", headers={"Accept": "application/json"})

    assert json_of(by_app) == json_of(by_id)
    assert json_of(by_app)["instance"]["metadata"] == {"management.port": "8080"}
