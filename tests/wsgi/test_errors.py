"""Client mistakes get a 4xx with a readable reason; failures a 500/503 without a traceback."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import falcon.testing
import orjson
import pytest

from eureka_embed.errors import StorageError, StorageUnavailable
from eureka_embed.model import Applications
from eureka_embed.registry import Registry
from eureka_embed.storage import LeaseRecord, MemoryStore, Snapshot, Write
from eureka_embed.wsgi import create_app as create_wsgi_app
from tests.wsgi.adapters import AppFactory
from tests.wsgi.helpers import (
    DEFAULT_DC,
    JSON,
    call_wsgi,
    instance_doc,
    instance_id,
    json_body,
    register,
)

T = TypeVar("T")

ID1 = instance_id(1)
JSON_BODY = {"Content-Type": "application/json"}


def _post(client: falcon.testing.TestClient, body: bytes, **headers: str) -> falcon.testing.Result:
    return client.simulate_post("/eureka/apps/ORDERS", body=body, headers=headers or JSON_BODY)


# -- 400 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b'{"instance": {"hostName": ', "application/json", "not valid JSON"),
        (b"[1, 2]", "application/json", "JSON object"),
        (b"<instance><hostName>h</instance>", "application/xml", "well-formed XML"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><instance>&a;</instance>',
            "application/xml",
            "DTD",
        ),
        (b"", "application/json", "empty"),
        (b"   \n", "application/json", "empty"),
    ],
    ids=["truncated-json", "json-list", "broken-xml", "xml-entities", "empty", "blank"],
)
def test_unreadable_bodies_are_400_with_a_reason(
    client: falcon.testing.TestClient, body: bytes, content_type: str, reason: str
) -> None:
    result = _post(client, body, **{"Content-Type": content_type})

    assert result.status_code == 400
    assert result.headers["Content-Type"].startswith("text/plain")
    assert reason in result.text
    assert "Traceback" not in result.text


@pytest.mark.parametrize(
    ("remove", "change", "reason"),
    [
        ("hostName", {}, "hostName"),
        ("ipAddr", {}, "ipAddr"),
        ("dataCenterInfo", {}, "dataCenterInfo"),
        (None, {"dataCenterInfo": {"@class": DEFAULT_DC["@class"]}}, "dataCenterInfo"),
        (None, {"app": "BILLING"}, "does not match"),
        (None, {"status": "SLEEPING"}, "SLEEPING"),
        (None, {"port": {"$": "eighty", "@enabled": "true"}}, "port"),
    ],
    ids=["no-host", "no-ip", "no-dc", "no-dc-name", "app-mismatch", "bad-status", "bad-port"],
)
def test_invalid_registrations_are_400_and_change_nothing(
    client: falcon.testing.TestClient,
    registry: Registry,
    remove: str | None,
    change: dict[str, Any],
    reason: str,
) -> None:
    register(client)  # the instance a bad request must not touch
    before = registry.get_instance("ORDERS", ID1)
    doc = instance_doc(**change)
    if remove is not None:
        del doc[remove]
    result = _post(client, orjson.dumps({"instance": doc}))

    assert result.status_code == 400
    assert reason in result.text
    assert registry.get_instance("ORDERS", ID1) == before
    assert registry.get_application("BILLING") is None


@pytest.mark.parametrize(
    "case",
    [
        ("PUT", "", {"lastDirtyTimestamp": "yesterday"}, "lastDirtyTimestamp"),
        ("PUT", "", {"lastDirtyTimestamp": "-5"}, "lastDirtyTimestamp"),
        ("PUT", "", {"lastDirtyTimestamp": "9" * 30}, "lastDirtyTimestamp"),
        ("PUT", "", {"overriddenstatus": "SIDEWAYS"}, "overriddenstatus"),
        ("PUT", "/status", {"value": "SIDEWAYS"}, "SIDEWAYS"),
        ("PUT", "/status", {}, "value"),
        ("PUT", "/status", {"value": "UP", "lastDirtyTimestamp": "1.5"}, "lastDirtyTimestamp"),
        ("DELETE", "/status", {"value": "SIDEWAYS"}, "SIDEWAYS"),
        ("DELETE", "/status", {"lastDirtyTimestamp": "x"}, "lastDirtyTimestamp"),
        ("PUT", "/metadata", {"1bad key": "v"}, "metadata key"),
        (
            "PUT",
            "/metadata",
            {"ok": "bell\x07"},
            "metadata.ok contains U+0007, which XML cannot carry",
        ),
    ],
)
def test_bad_query_parameters_are_400_and_change_nothing(
    client: falcon.testing.TestClient,
    registry: Registry,
    base: str,
    case: tuple[str, str, dict[str, str], str],
) -> None:
    method, suffix, params, reason = case
    register(client)
    before = registry.get_instance("ORDERS", ID1)
    sequence = registry.sequence

    result = client.simulate_request(
        method, f"{base}/apps/ORDERS/{ID1}{suffix}", params=params, headers=JSON
    )

    assert result.status_code == 400
    assert reason in result.text
    assert registry.get_instance("ORDERS", ID1) == before
    assert registry.sequence == sequence


# -- 404 and 405 --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/eureka/nothing", "/eureka/apps/A/B/C/D", "/other", "/eureka"])
def test_unknown_paths_are_404_with_a_reason(client: falcon.testing.TestClient, path: str) -> None:
    result = client.simulate_get(path)

    assert result.status_code == 404
    assert path in result.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/eureka/apps"),
        ("DELETE", "/eureka/apps/delta"),
        ("PATCH", f"/eureka/apps/ORDERS/{ID1}"),
        ("POST", f"/eureka/apps/ORDERS/{ID1}"),
        ("GET", f"/eureka/apps/ORDERS/{ID1}/status"),
        ("DELETE", f"/eureka/v2/apps/ORDERS/{ID1}/metadata"),
        ("PUT", "/eureka/instances/x"),
        ("POST", "/eureka/vips/orders"),
        ("DELETE", "/eureka/status"),
        ("POST", "/"),
        ("POST", "/metrics"),
    ],
)
def test_wrong_methods_are_405_naming_the_allowed_ones(
    client: falcon.testing.TestClient, method: str, path: str
) -> None:
    result = client.simulate_request(method, path)

    assert result.status_code == 405
    assert "Allow" in result.headers
    assert method in result.text


# -- 413 ----------------------------------------------------------------------------------------


class _Untouchable(io.RawIOBase):
    """A request stream that fails the test if anything reads it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the body was read although its declared length was too large")


def _post_environ(body: bytes = b"") -> dict[str, Any]:
    environ: dict[str, Any] = falcon.testing.create_environ(
        path="/eureka/apps/ORDERS", method="POST", body=body, headers=JSON_BODY
    )
    return environ


def test_a_declared_length_above_the_limit_is_413_before_reading(registry: Registry) -> None:
    environ = _post_environ()
    environ["CONTENT_LENGTH"] = "1001"
    environ["wsgi.input"] = _Untouchable()

    status, answer = call_wsgi(create_wsgi_app(registry, max_body_bytes=1000), environ)

    assert status.startswith("413")
    assert b"1000" in answer


def test_the_default_limit_is_one_mebibyte(client: falcon.testing.TestClient) -> None:
    padding = "x" * (1 << 20)
    big = json_body(metadata={"padding": padding})

    assert _post(client, big).status_code == 413
    assert _post(client, json_body()).status_code == 204


def _call_without_length(app: Any, body: bytes, *, terminated: bool) -> tuple[str, bytes]:
    """Drive the app as a server does for a chunked body: no CONTENT_LENGTH."""
    environ = _post_environ(body)
    del environ["CONTENT_LENGTH"]
    if terminated:
        environ["wsgi.input_terminated"] = True
    return call_wsgi(app, environ)


def test_a_chunked_body_is_read_only_up_to_the_limit(registry: Registry) -> None:
    app = create_wsgi_app(registry, max_body_bytes=1000)

    status, answer = _call_without_length(app, b"{" + b" " * 5000 + b"}", terminated=True)

    assert status.startswith("413")
    assert b"1000" in answer


def test_a_chunked_body_within_the_limit_registers(registry: Registry) -> None:
    app = create_wsgi_app(registry)

    status, _ = _call_without_length(app, json_body(), terminated=True)

    assert status.startswith("204")
    assert registry.get_instance("ORDERS", ID1) is not None


def test_an_unterminated_body_without_length_is_not_read(registry: Registry) -> None:
    # Reading it could block forever; the empty body is refused instead.
    status, answer = _call_without_length(create_wsgi_app(registry), json_body(), terminated=False)

    assert status.startswith("400")
    assert b"empty" in answer


# -- 500 and 503 --------------------------------------------------------------------------------


class FailingStore(MemoryStore):
    """A memory store that raises ``failure`` from every call while it is set."""

    def __init__(self) -> None:
        super().__init__()
        self.failure: Exception | None = None

    def _check(self) -> None:
        if self.failure is not None:
            raise self.failure

    def get(self, app: str, instance_id: str) -> LeaseRecord | None:
        self._check()
        return super().get(app, instance_id)

    def find(self, instance_id: str) -> list[LeaseRecord]:
        self._check()
        return super().find(instance_id)

    def snapshot(self) -> Snapshot:
        self._check()
        return super().snapshot()

    def latest_sequence(self) -> int:
        self._check()
        return super().latest_sequence()

    def remove_each(self, *args: Any, **kwargs: Any) -> Any:  # a cancel, an eviction
        self._check()
        return super().remove_each(*args, **kwargs)

    def applications(self) -> Applications:
        # MemoryStore answers this without snapshot() since the full registry is regrouped
        # per changed application; a store that is down fails it too.
        self._check()
        return super().applications()

    def mutate(
        self, app: str, instance_id: str, fn: Callable[[LeaseRecord | None], tuple[Write | None, T]]
    ) -> T:
        self._check()
        return super().mutate(app, instance_id, fn)


@pytest.fixture
def store() -> FailingStore:
    return FailingStore()


@pytest.fixture
def failing_client(create_app: AppFactory, store: FailingStore) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(Registry(store)))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/eureka/apps"),
        ("GET", "/eureka/apps/delta"),
        ("GET", f"/eureka/apps/ORDERS/{ID1}"),
        ("PUT", f"/eureka/apps/ORDERS/{ID1}"),
        ("DELETE", f"/eureka/apps/ORDERS/{ID1}"),
        ("GET", f"/eureka/instances/{ID1}"),
        ("POST", "/eureka/apps/ORDERS"),
    ],
)
def test_an_unavailable_store_is_503_with_retry_after(
    failing_client: falcon.testing.TestClient, store: FailingStore, method: str, path: str
) -> None:
    store.failure = StorageUnavailable("database connection refused")

    result = failing_client.simulate_request(method, path, body=json_body(), headers=JSON_BODY)

    assert result.status_code == 503
    assert result.headers["Retry-After"].isdigit()
    assert "database connection refused" in result.text


def test_a_store_error_is_500_with_its_reason_and_logged(
    failing_client: falcon.testing.TestClient,
    store: FailingStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store.failure = StorageError("constraint violated")

    result = failing_client.simulate_get("/eureka/apps", headers=JSON)

    assert result.status_code == 500
    assert "constraint violated" in result.text
    assert "Traceback" not in result.text
    assert "constraint violated" in caplog.text


def test_an_unexpected_error_is_500_without_details_and_the_traceback_is_logged(
    failing_client: falcon.testing.TestClient,
    store: FailingStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store.failure = KeyError("secret internal detail")

    with caplog.at_level(logging.ERROR, logger="eureka_embed.wsgi"):
        result = failing_client.simulate_get("/eureka/apps", headers=JSON)

    assert result.status_code == 500
    assert result.headers["Content-Type"].startswith("text/plain")
    assert "secret internal detail" not in result.text
    assert "Traceback" not in result.text
    assert "Traceback" in caplog.text
    assert "secret internal detail" in caplog.text


def test_the_app_recovers_once_the_store_is_back(
    failing_client: falcon.testing.TestClient, store: FailingStore
) -> None:
    store.failure = StorageUnavailable("down")
    assert _post(failing_client, json_body()).status_code == 503

    store.failure = None

    assert _post(failing_client, json_body()).status_code == 204
    assert failing_client.simulate_get(f"/eureka/apps/ORDERS/{ID1}").status_code == 200
