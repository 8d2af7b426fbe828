"""Bodiless answers carry the negotiated Content-Type on the wire, as Jersey 1 sends them.

Strict clients (wasp-eureka on aiohttp) refuse a 204 without one. ``falcon.testing`` refuses a
Content-Type on a 204, so these tests read the bytes waitress really sends, with http.client.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any

import pytest

from eureka_embed.registry import Registry
from eureka_embed.server import EurekaServer
from eureka_embed.testing import live_server, memory_registry
from tests.wsgi.helpers import instance_id, json_body, xml_body

JSON_TYPE = "application/json"
XML_TYPE = "application/xml"


@pytest.fixture
def registry() -> Iterator[Registry]:
    made = memory_registry()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def server(registry: Registry) -> Iterator[EurekaServer]:
    with live_server(registry, maintenance=False) as running:
        yield running


def _call(
    server: EurekaServer, method: str, path: str, body: bytes | None = None, **headers: str
) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        answer.read()
        return answer
    finally:
        connection.close()


def _media_type(answer: http.client.HTTPResponse) -> str | None:
    value = answer.getheader("Content-Type")
    return None if value is None else value.split(";")[0].strip()


@pytest.mark.parametrize(("accept", "expected"), [("application/json", JSON_TYPE), ("", XML_TYPE)])
def test_registration_204_carries_the_negotiated_content_type(
    server: EurekaServer, accept: str, expected: str
) -> None:
    headers = {"Content-Type": "application/json"}
    if accept:
        headers["Accept"] = accept
    answer = _call(server, "POST", "/eureka/apps/ORDERS", json_body(1), **headers)
    assert answer.status == 204
    assert _media_type(answer) == expected
    assert answer.getheader("Content-Length") in (None, "0")


def test_an_xml_registration_204_carries_xml(server: EurekaServer) -> None:
    answer = _call(
        server,
        "POST",
        "/eureka/v2/apps/ORDERS",
        xml_body(1),
        **{"Content-Type": "application/xml", "Accept": "application/xml"},
    )
    assert answer.status == 204
    assert _media_type(answer) == XML_TYPE


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("PUT", ""),
        ("PUT", "/status?value=OUT_OF_SERVICE"),
        ("DELETE", "/status?value=UP"),
        ("PUT", "/metadata?zone=b"),
        ("DELETE", ""),
    ],
)
def test_every_bodiless_write_answer_carries_the_negotiated_type(
    server: EurekaServer, method: str, suffix: str
) -> None:
    registered = _call(
        server, "POST", "/eureka/apps/ORDERS", json_body(1), **{"Content-Type": JSON_TYPE}
    )
    assert registered.status == 204
    path = f"/eureka/apps/ORDERS/{instance_id(1)}{suffix}"
    answer = _call(server, method, path, None, Accept=JSON_TYPE)
    assert answer.status == 200
    assert _media_type(answer) == JSON_TYPE


def test_the_wsgi_app_itself_names_the_type_of_its_204(registry: Registry) -> None:
    # Any WSGI server (gunicorn, uwsgi, a host app) gets the header from the app, not waitress.
    import falcon.testing

    from eureka_embed.wsgi import create_app

    environ = falcon.testing.create_environ(
        path="/eureka/apps/ORDERS",
        method="POST",
        body=json_body(1),
        headers={"Content-Type": JSON_TYPE, "Accept": JSON_TYPE},
    )
    seen: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> Any:
        seen.append((status, headers))
        return lambda data: None

    body = b"".join(create_app(registry)(environ, start_response))

    ((status, headers),) = seen
    assert status.startswith("204")
    assert body == b""
    assert {name.lower(): value for name, value in headers}["content-type"] == JSON_TYPE
