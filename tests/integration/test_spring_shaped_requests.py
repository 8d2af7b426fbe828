"""Requests shaped as Spring Cloud Netflix's Eureka client sends them, against a live server.

Spring Cloud (RestTemplate/RestClient transport) serialises InstanceInfo with Jackson: nulls for
unset strings, JSON booleans and numbers where Eureka's own codec writes strings, and both
spellings of the overridden status. Heartbeats and status calls are PUT/DELETE with query
parameters, no body, and ``Content-Type: application/json`` all the same; reads ask for JSON
and gzip.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from tests.server.support import Response, ServeProcess, live_instance, request

APP = "SPRING-ORDERS"
INSTANCE_ID = "10.0.0.7:spring-orders:8080"
DIRTY = 1_712_957_014_863

JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
READ_HEADERS = {**JSON_HEADERS, "Accept-Encoding": "gzip"}


def _registration(last_dirty: int = DIRTY) -> bytes:
    instance: dict[str, Any] = {
        "instanceId": INSTANCE_ID,
        "app": APP,
        "appGroupName": None,
        "ipAddr": "10.0.0.7",
        "sid": "na",
        "homePageUrl": "http://10.0.0.7:8080/",
        "statusPageUrl": "http://10.0.0.7:8080/actuator/info",
        "healthCheckUrl": "http://10.0.0.7:8080/actuator/health",
        "secureHealthCheckUrl": None,
        "vipAddress": "spring-orders",
        "secureVipAddress": "spring-orders",
        "countryId": 1,
        "dataCenterInfo": {
            "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
            "name": "MyOwn",
        },
        "hostName": "10.0.0.7",
        "status": "UP",
        "overriddenStatus": "UNKNOWN",
        "overriddenstatus": "UNKNOWN",
        "leaseInfo": {
            "renewalIntervalInSecs": 30,
            "durationInSecs": 90,
            "registrationTimestamp": 0,
            "lastRenewalTimestamp": 0,
            "evictionTimestamp": 0,
            "serviceUpTimestamp": 0,
        },
        "isCoordinatingDiscoveryServer": False,
        "metadata": {"management.port": "8080", "zone": "primary"},
        "lastUpdatedTimestamp": last_dirty,
        "lastDirtyTimestamp": last_dirty,
        "actionType": None,
        "asgName": None,
        "port": {"$": 8080, "@enabled": True},
        "securePort": {"$": 443, "@enabled": False},
    }
    return json.dumps({"instance": instance}).encode()


def _register(base: str, last_dirty: int = DIRTY) -> Response:
    return request(
        f"{base}apps/{APP}",
        "POST",
        body=_registration(last_dirty),
        headers={"Content-Type": "application/json", "Accept-Encoding": "gzip"},
    )


def _heartbeat(base: str, last_dirty: int = DIRTY) -> Response:
    return request(
        f"{base}apps/{APP}/{INSTANCE_ID}?status=UP&lastDirtyTimestamp={last_dirty}",
        "PUT",
        headers=JSON_HEADERS,
    )


def _read(base: str, path: str) -> Any:
    answer = request(f"{base}{path}", headers=READ_HEADERS)
    assert answer.status == 200, (path, answer.status, answer.body[:300])
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["content-type"].startswith("application/json")
    return json.loads(gzip.decompress(answer.body))


def test_register_is_204_with_an_empty_body(live_server: ServeProcess) -> None:
    answer = _register(live_server.base_url)

    assert (answer.status, answer.body) == (204, b"")
    stored = live_instance(live_server.base_url, APP, INSTANCE_ID)
    assert stored is not None
    assert stored["port"] == {"$": 8080, "@enabled": "true"}
    assert stored["securePort"] == {"$": 443, "@enabled": "false"}
    assert stored["metadata"] == {"management.port": "8080", "zone": "primary"}
    assert stored["lastDirtyTimestamp"] == str(DIRTY)
    assert "appGroupName" not in stored


def test_full_registry_and_delta_as_spring_reads_them(live_server: ServeProcess) -> None:
    base = live_server.base_url
    assert _register(base).status == 204

    full = _read(base, "apps/")["applications"]
    delta = _read(base, "apps/delta")["applications"]

    assert full["apps__hashcode"] == delta["apps__hashcode"] == "UP_1_"
    # Spring's Jackson reader needs arrays, even for one application and one instance.
    [application] = full["application"]
    assert application["name"] == APP
    assert [i["instanceId"] for i in application["instance"]] == [INSTANCE_ID]
    [changed] = delta["application"]
    [added] = changed["instance"]
    assert (added["instanceId"], added["actionType"]) == (INSTANCE_ID, "ADDED")
    assert _read(base, "vips/spring-orders")["applications"]["application"][0]["name"] == APP


def test_heartbeat_with_status_and_last_dirty_timestamp(live_server: ServeProcess) -> None:
    base = live_server.base_url
    assert _register(base).status == 204
    before = live_instance(base, APP, INSTANCE_ID)
    assert before is not None

    answer = _heartbeat(base)

    assert answer.status == 200
    after = live_instance(base, APP, INSTANCE_ID)
    assert after is not None
    renewed = after["leaseInfo"]["lastRenewalTimestamp"]
    assert renewed >= before["leaseInfo"]["lastRenewalTimestamp"]


def test_a_client_newer_than_the_server_is_told_to_register_again(
    live_server: ServeProcess,
) -> None:
    base = live_server.base_url
    assert _register(base).status == 204

    # The client changed (lastDirtyTimestamp moved on) but the server has the old instance.
    assert _heartbeat(base, DIRTY + 1000).status == 404
    assert _register(base, DIRTY + 1000).status == 204
    assert _heartbeat(base, DIRTY + 1000).status == 200


def test_unknown_instance_heartbeat_is_404(live_server: ServeProcess) -> None:
    assert _heartbeat(live_server.base_url).status == 404


def test_status_override_and_its_removal(live_server: ServeProcess) -> None:
    base = live_server.base_url
    assert _register(base).status == 204
    status_url = f"{base}apps/{APP}/{INSTANCE_ID}/status"

    put = request(
        f"{status_url}?value=OUT_OF_SERVICE&lastDirtyTimestamp={DIRTY}", "PUT", headers=JSON_HEADERS
    )
    assert put.status == 200
    overridden = live_instance(base, APP, INSTANCE_ID)
    assert overridden is not None
    assert (overridden["status"], overridden["overriddenStatus"]) == (
        "OUT_OF_SERVICE",
        "OUT_OF_SERVICE",
    )
    assert _heartbeat(base).status == 200  # the override survives heartbeats

    removed = request(f"{status_url}?lastDirtyTimestamp={DIRTY}", "DELETE", headers=JSON_HEADERS)
    assert removed.status == 200
    # Without a value the status becomes UNKNOWN: the next heartbeat makes the client register.
    assert _heartbeat(base).status == 404
    assert _register(base).status == 204
    registered = live_instance(base, APP, INSTANCE_ID)
    assert registered is not None
    assert registered["status"] == "UP"


def test_cancel_removes_the_instance_and_shows_in_the_delta(live_server: ServeProcess) -> None:
    base = live_server.base_url
    assert _register(base).status == 204

    # Spring encodes the path segment; the colons may arrive percent-encoded.
    answer = request(f"{base}apps/{APP}/10.0.0.7%3Aspring-orders%3A8080", "DELETE")

    assert answer.status == 200
    assert live_instance(base, APP, INSTANCE_ID) is None
    assert request(f"{base}apps/{APP}", headers=JSON_HEADERS).status == 404
    delta = _read(base, "apps/delta")["applications"]
    [gone] = delta["application"][0]["instance"]
    assert (gone["instanceId"], gone["actionType"]) == (INSTANCE_ID, "DELETED")
    assert delta["apps__hashcode"] == ""
    assert request(f"{base}apps/{APP}/{INSTANCE_ID}", "DELETE").status == 404
