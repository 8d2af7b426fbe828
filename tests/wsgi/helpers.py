"""Request bodies and calls shared by the WSGI tests."""

from __future__ import annotations

import gzip
from typing import Any, Final

import falcon.testing
import orjson

BASES: Final = ("/eureka", "/eureka/v2")
JSON: Final = {"Accept": "application/json"}
XML: Final = {"Accept": "application/xml"}
DEFAULT_DC: Final = {
    "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
    "name": "MyOwn",
}


def instance_id(n: int = 1, app: str = "ORDERS") -> str:
    return f"host{n}:{app.lower()}:8080"


def instance_doc(n: int = 1, app: str = "ORDERS", **fields: Any) -> dict[str, Any]:
    """An unwrapped JSON instance as Eureka clients send it; ``fields`` override or add keys."""
    doc: dict[str, Any] = {
        "instanceId": instance_id(n, app),
        "hostName": f"host{n}",
        "app": app,
        "ipAddr": f"10.0.0.{n}",
        "status": "UP",
        "port": {"$": 8080, "@enabled": "true"},
        "securePort": {"$": 443, "@enabled": "false"},
        "dataCenterInfo": DEFAULT_DC,
        "leaseInfo": {"renewalIntervalInSecs": 30, "durationInSecs": 90},
        "vipAddress": app.lower(),
        "secureVipAddress": f"{app.lower()}-secure",
        "lastDirtyTimestamp": "1000",
    }
    doc.update(fields)
    return doc


def json_body(n: int = 1, app: str = "ORDERS", **fields: Any) -> bytes:
    return orjson.dumps({"instance": instance_doc(n, app, **fields)})


def xml_body(n: int = 1, app: str = "ORDERS", status: str = "UP") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<instance>
  <instanceId>{instance_id(n, app)}</instanceId>
  <hostName>host{n}</hostName>
  <app>{app}</app>
  <ipAddr>10.0.0.{n}</ipAddr>
  <status>{status}</status>
  <overriddenstatus>UNKNOWN</overriddenstatus>
  <port enabled="true">8080</port>
  <securePort enabled="false">443</securePort>
  <countryId>1</countryId>
  <dataCenterInfo class="com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo">
    <name>MyOwn</name>
  </dataCenterInfo>
  <leaseInfo><renewalIntervalInSecs>30</renewalIntervalInSecs><durationInSecs>90</durationInSecs></leaseInfo>
  <metadata><zone>a</zone></metadata>
  <vipAddress>{app.lower()}</vipAddress>
  <lastDirtyTimestamp>1000</lastDirtyTimestamp>
</instance>""".encode()


def register(
    client: falcon.testing.TestClient,
    n: int = 1,
    app: str = "ORDERS",
    base: str = "/eureka",
    **fields: Any,
) -> None:
    result = client.simulate_post(
        f"{base}/apps/{app}",
        body=json_body(n, app, **fields),
        headers={"Content-Type": "application/json"},
    )
    assert result.status_code == 204, result.text


def call_wsgi(app: Any, environ: dict[str, Any]) -> tuple[str, bytes]:
    """Drive ``app`` with a hand-made environ, as a server would (no wsgiref validator)."""
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    answer = b"".join(app(environ, start_response))
    return statuses[0], answer


def json_of(result: falcon.testing.Result) -> Any:
    body = result.content
    if result.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return orjson.loads(body)


def instance_ids(apps_json: Any) -> list[str]:
    """Instance ids of an ``{"applications": ...}`` JSON payload, sorted."""
    return sorted(
        instance["instanceId"]
        for application in apps_json["applications"]["application"]
        for instance in application["instance"]
    )


def statuses(apps_json: Any) -> dict[str, str]:
    return {
        instance["instanceId"]: instance["status"]
        for application in apps_json["applications"]["application"]
        for instance in application["instance"]
    }
