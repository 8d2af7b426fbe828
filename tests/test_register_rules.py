"""The register rules: one wording on every way in, each applied once per registration.

The same bad registration gets the same reason from ``Registry.register`` (ValidationError), the
in-process client (400) and the HTTP server (400 body); a peer's batch refuses it with that reason
in the log. Ids and app names longer than a SQL key column are refused alike by every store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, Final
from urllib.parse import quote

import falcon.testing
import orjson
import pytest

from eureka_embed import register_rules
from eureka_embed.client import InProcessEurekaClient
from eureka_embed.clock import ManualClock
from eureka_embed.codec import WireFormat, encode_instance, instance_from_dict
from eureka_embed.config import RegistryConfig
from eureka_embed.errors import ValidationError
from eureka_embed.model import InstanceInfo
from eureka_embed.registry import Registry
from eureka_embed.replication.wire import ReplicationItem
from eureka_embed.storage import Store
from tests.wsgi.adapters import AppFactory

NOW: Final = 1_700_000_000_000
GOOD: Final[dict[str, Any]] = {
    "instanceId": "host1:orders:8080",
    "hostName": "host1",
    "app": "ORDERS",
    "ipAddr": "10.0.0.1",
    "dataCenterInfo": {
        "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
        "name": "MyOwn",
    },
}
XML_NAME_RULE: Final = (
    "is not allowed: keys are written as XML element names (letters, digits, '.', '-', '_'; "
    "starting with a letter or '_')"
)


def changed(*remove: str, **changes: Any) -> dict[str, Any]:
    doc = {key: value for key, value in GOOD.items() if key not in remove}
    return {**doc, **changes}


BAD_REGISTRATIONS: Final = [
    (changed("instanceId", "hostName"), "instance.instanceId is missing"),
    (changed(hostName="  "), "instance.hostName is missing"),
    (changed("ipAddr"), "instance.ipAddr is missing"),
    (changed(app=""), "instance.app is missing"),
    (changed("dataCenterInfo"), "instance.dataCenterInfo.name is missing"),
    (
        changed(dataCenterInfo={"@class": "com.netflix.appinfo.AmazonInfo"}),
        "instance.dataCenterInfo.name is missing",
    ),
    (
        changed(dataCenterInfo={"name": "Azure"}),
        "instance.dataCenterInfo.name 'Azure' is not one of Netflix, Amazon, MyOwn",
    ),
    (
        changed(instanceId="i" * 256),
        "instance.instanceId is 256 characters long; at most 255 are allowed",
    ),
    (changed(app="A" * 300), "instance.app is 300 characters long; at most 255 are allowed"),
    (changed(app="ß" * 200), "instance.app is 400 characters long; at most 255 are allowed"),
    (changed(metadata={"has space": "x"}), f"instance.metadata key 'has space' {XML_NAME_RULE}"),
    (changed(metadata={"": "x"}), f"instance.metadata key '' {XML_NAME_RULE}"),
    (
        changed(dataCenterInfo={"name": "Amazon", "metadata": {"a b": "1"}}),
        f"instance.dataCenterInfo.metadata key 'a b' {XML_NAME_RULE}",
    ),
    (changed(hostName="h\x00"), "instance.hostName contains U+0000, which XML cannot carry"),
    (
        changed(metadata={"k": "\x0b"}),
        "instance.metadata.k contains U+000B, which XML cannot carry",
    ),
    (
        changed(vipAddress="orders\x1f"),
        "instance.vipAddress contains U+001F, which XML cannot carry",
    ),
]
CASES: Final = pytest.mark.parametrize(
    ("doc", "reason"), BAD_REGISTRATIONS, ids=[reason for _, reason in BAD_REGISTRATIONS]
)


@pytest.fixture
def registry() -> Iterator[Registry]:
    made = Registry(config=RegistryConfig(self_preservation=False), clock=ManualClock(NOW))
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def client(create_app: AppFactory, registry: Registry) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(registry))


def url_app(doc: dict[str, Any]) -> str:
    return str(doc.get("app") or "ORDERS")


def post(client: falcon.testing.TestClient, app: str, body: bytes) -> falcon.testing.Result:
    return client.simulate_post(
        f"/eureka/apps/{quote(app)}", body=body, headers={"Content-Type": "application/json"}
    )


def registered(registry: Registry) -> list[str]:
    return [i.instance_id for i in registry.get_applications().instances()]


@CASES
def test_the_same_bad_registration_has_the_same_reason_on_every_way_in(
    registry: Registry, client: falcon.testing.TestClient, doc: dict[str, Any], reason: str
) -> None:
    # A registration is read without judging, so the in-process callers get the same instance.
    instance = instance_from_dict(doc, now_ms=NOW)

    with pytest.raises(ValidationError) as caught:
        registry.register(instance)
    answer = InProcessEurekaClient(registry).register(instance)
    over_http = post(client, url_app(doc), orjson.dumps({"instance": doc}))

    assert caught.value.reason == reason
    assert (answer.status, answer.text) == (400, reason)
    assert (over_http.status_code, over_http.text) == (400, reason + "\n")
    assert registered(registry) == []


# Without an id or an app the batch reader refuses the item first: it checks them against the
# item's id and appName.
PEER_CASES: Final = [
    (doc, reason) for doc, reason in BAD_REGISTRATIONS if doc.get("app") and doc.get("instanceId")
]


@pytest.mark.parametrize(("doc", "reason"), PEER_CASES, ids=[reason for _, reason in PEER_CASES])
def test_a_peer_refuses_the_same_bad_registration_with_the_same_reason(
    registry: Registry,
    client: falcon.testing.TestClient,
    caplog: pytest.LogCaptureFixture,
    doc: dict[str, Any],
    reason: str,
) -> None:
    item = {"appName": doc["app"], "id": doc.get("instanceId"), "action": "Register"}
    batch = {"replicationList": [{**item, "instanceInfo": doc}]}

    with caplog.at_level(logging.WARNING, logger="eureka_embed.replication"):
        result = client.simulate_post(
            "/eureka/peerreplication/batch/",
            body=orjson.dumps(batch),
            headers={"Content-Type": "application/json"},
        )

    assert orjson.loads(result.content) == {"responseList": [{"statusCode": 400}]}
    assert reason in caplog.text
    assert registered(registry) == []


def test_the_app_must_be_the_one_it_is_registered_under_in_any_case(
    registry: Registry, client: falcon.testing.TestClient
) -> None:
    reason = (
        "instance.app 'ORDERS' does not match the application it is registered under, 'BILLING'"
    )
    with pytest.raises(ValidationError) as caught:
        registry.register(instance_from_dict(GOOD, now_ms=NOW), expected_app="billing")
    over_http = post(client, "billing", orjson.dumps({"instance": GOOD}))

    assert caught.value.reason == reason
    assert (over_http.status_code, over_http.text) == (400, reason + "\n")
    assert registered(registry) == []
    assert post(client, "orders", orjson.dumps({"instance": GOOD})).status_code == 204
    registry.register(instance_from_dict(GOOD, now_ms=NOW), expected_app="Orders")


# -- each rule runs once per registration


@pytest.fixture
def rule_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every run of the register rules, by instance id; every rule is applied from one function."""
    runs: list[str] = []
    real = register_rules._broken_rule

    def counted(instance: InstanceInfo, expected_app: str | None) -> str | None:
        runs.append(instance.instance_id)
        return real(instance, expected_app)

    monkeypatch.setattr(register_rules, "_broken_rule", counted)
    return runs


Way = Callable[[Registry, falcon.testing.TestClient, InstanceInfo], None]


def _direct(registry: Registry, client: falcon.testing.TestClient, instance: InstanceInfo) -> None:
    registry.register(instance)


def _in_process_client(
    registry: Registry, client: falcon.testing.TestClient, instance: InstanceInfo
) -> None:
    assert InProcessEurekaClient(registry).register(instance).status == 204


def _over_http(fmt: WireFormat) -> Way:
    def way(registry: Registry, client: falcon.testing.TestClient, instance: InstanceInfo) -> None:
        result = client.simulate_post(
            f"/eureka/apps/{instance.app}",
            body=encode_instance(instance, fmt),
            headers={"Content-Type": fmt.content_type},
        )
        assert result.status_code == 204

    return way


def _from_a_peer(
    registry: Registry, client: falcon.testing.TestClient, instance: InstanceInfo
) -> None:
    batch = {"replicationList": [ReplicationItem.register(instance).to_dict()]}
    result = client.simulate_post(
        "/eureka/peerreplication/batch/",
        body=orjson.dumps(batch),
        headers={"Content-Type": "application/json"},
    )
    assert orjson.loads(result.content) == {"responseList": [{"statusCode": 200}]}


WAYS_IN: Final[dict[str, Way]] = {
    "registry": _direct,
    "in-process-client": _in_process_client,
    "http-json": _over_http(WireFormat.JSON),
    "http-xml": _over_http(WireFormat.XML),
    "peer-batch": _from_a_peer,
}


@pytest.mark.parametrize("way_in", list(WAYS_IN))
def test_the_rules_run_once_per_registration(
    registry: Registry, client: falcon.testing.TestClient, rule_runs: list[str], way_in: str
) -> None:
    instance = instance_from_dict(GOOD, now_ms=NOW)

    WAYS_IN[way_in](registry, client, instance)

    assert rule_runs == [instance.instance_id]
    assert registered(registry) == [instance.instance_id]


def test_the_metadata_rule_runs_once_per_metadata_update(
    registry: Registry, client: falcon.testing.TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.register(instance_from_dict(GOOD, now_ms=NOW))
    runs: list[object] = []
    real = register_rules.check_metadata

    def counted(entries: Any, path: str = "metadata") -> None:
        runs.append(dict(entries))
        real(entries, path)

    monkeypatch.setattr(register_rules, "check_metadata", counted)

    result = client.simulate_put("/eureka/apps/ORDERS/host1:orders:8080/metadata?zone=a")
    refused = client.simulate_put("/eureka/apps/ORDERS/host1:orders:8080/metadata?a%20b=1")

    assert result.status_code == 200
    assert (refused.status_code, refused.text) == (400, f"metadata key 'a b' {XML_NAME_RULE}\n")
    assert runs == [{"zone": "a"}, {"a b": "1"}]


# -- bug 9: every store takes the same ids and app names, over HTTP too

LONGEST_ID: Final = "i" * 254 + "\u00e9"  # 255 characters, 256 bytes in UTF-8
TOO_LONG_ID: Final = "i" * 300


@pytest.fixture
def client_over(
    create_app: AppFactory, store: Store
) -> Iterator[tuple[Registry, falcon.testing.TestClient]]:
    made = Registry(store, RegistryConfig(self_preservation=False), ManualClock(NOW))
    yield made, falcon.testing.TestClient(create_app(made))


def test_an_over_long_id_or_app_name_is_a_400_in_every_store(
    client_over: tuple[Registry, falcon.testing.TestClient],
) -> None:
    registry, client = client_over

    long_id = post(client, "ORDERS", orjson.dumps({"instance": changed(instanceId=TOO_LONG_ID)}))
    long_app = post(client, "A" * 256, orjson.dumps({"instance": changed(app="A" * 256)}))

    assert (long_id.status_code, long_id.text) == (
        400,
        "instance.instanceId is 300 characters long; at most 255 are allowed\n",
    )
    assert (long_app.status_code, long_app.text) == (
        400,
        "instance.app is 256 characters long; at most 255 are allowed\n",
    )
    assert registered(registry) == []


def test_the_longest_id_and_app_name_register_in_every_store(
    client_over: tuple[Registry, falcon.testing.TestClient],
) -> None:
    _, client = client_over
    app = "A" * 255
    doc = changed(instanceId=LONGEST_ID, app=app)

    assert post(client, app, orjson.dumps({"instance": doc})).status_code == 204

    path = f"/eureka/apps/{app}/{quote(LONGEST_ID)}"
    found = client.simulate_get(path, headers={"Accept": "application/json"})
    assert found.status_code == 200
    assert orjson.loads(found.content)["instance"]["instanceId"] == LONGEST_ID
    assert client.simulate_put(path).status_code == 200


@pytest.mark.parametrize(
    ("app", "instance_id"),
    [("ORDERS", TOO_LONG_ID), ("A" * 300, "host1:orders:8080")],
    ids=["long-id", "long-app"],
)
def test_every_write_on_an_over_long_key_is_a_404_in_every_store(
    client_over: tuple[Registry, falcon.testing.TestClient], app: str, instance_id: str
) -> None:
    registry, client = client_over
    assert post(client, "ORDERS", orjson.dumps({"instance": GOOD})).status_code == 204
    path = f"/eureka/apps/{app}/{quote(instance_id)}"

    answers = {
        "get": client.simulate_get(path).status_code,
        "heartbeat": client.simulate_put(path).status_code,
        "status": client.simulate_put(f"{path}/status", params={"value": "DOWN"}).status_code,
        "override": client.simulate_delete(f"{path}/status").status_code,
        "metadata": client.simulate_put(f"{path}/metadata", params={"k": "v"}).status_code,
        "cancel": client.simulate_delete(path).status_code,
    }

    assert answers == dict.fromkeys(answers, 404)
    assert registered(registry) == ["host1:orders:8080"]
