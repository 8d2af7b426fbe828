"""The REST client: the requests it builds and how it reads Netflix-shaped answers."""

from __future__ import annotations

import orjson
import pytest

from eureka_embed.client import (
    EurekaEndpoint,
    HttpRequest,
    HttpResponse,
    InvalidResponse,
    MockTransport,
    RestEurekaHttpClient,
)
from eureka_embed.client.transport import Handler
from eureka_embed.clock import ManualClock
from eureka_embed.codec import WireFormat, decode_instance, encode_applications
from eureka_embed.model import ActionType, Applications, InstanceStatus
from tests.client.support import answer, apps_answer, instance, json_answer, payload

BASE = "http://eureka-a:8761/eureka/"


def _ok(request: HttpRequest) -> HttpResponse:
    return answer(200)


def _client(
    handler: Handler = _ok,
    *,
    url: str = BASE,
    wire_format: WireFormat = WireFormat.JSON,
    compact: bool = False,
) -> tuple[RestEurekaHttpClient, MockTransport]:
    transport = MockTransport(handler)
    client = RestEurekaHttpClient(
        EurekaEndpoint.parse(url), transport, wire_format=wire_format, compact=compact
    )
    return client, transport


def test_register_posts_the_encoded_instance_to_the_app_path_and_reads_204() -> None:
    client, transport = _client(lambda r: answer(204))
    me = instance(1, app="orders")

    response = client.register(me)

    [sent] = transport.requests
    assert (sent.method, sent.url) == ("POST", BASE + "apps/ORDERS")
    assert sent.header("Content-Type") == "application/json"
    assert sent.body is not None
    assert decode_instance(sent.body, WireFormat.JSON) == me.evolve(app="ORDERS")
    assert (response.status, response.ok, response.entity) == (204, True, None)


def test_xml_on_request_for_bodies_and_accept() -> None:
    client, transport = _client(lambda r: answer(204), wire_format=WireFormat.XML)

    client.register(instance(1))

    [sent] = transport.requests
    assert sent.header("Accept") == "application/xml"
    assert sent.header("Content-Type") == "application/xml"
    assert sent.body is not None and sent.body.lstrip().startswith(b"<")


def test_heartbeat_sends_status_and_last_dirty_timestamp_of_the_instance() -> None:
    client, transport = _client()
    me = instance(1, last_dirty_timestamp=1712957014310)

    response = client.send_heartbeat("ORDERS", me.instance_id, instance=me)

    [sent] = transport.requests
    assert sent.method == "PUT"
    assert sent.url == (
        BASE + "apps/ORDERS/host1%3Aorders%3A8080?status=UP&lastDirtyTimestamp=1712957014310"
    )
    assert response.status == 200 and response.entity is None


def test_heartbeat_sends_overriddenstatus_only_when_given() -> None:
    client, transport = _client()

    client.send_heartbeat("orders", "i-1", overridden_status=InstanceStatus.OUT_OF_SERVICE)

    assert transport.requests[0].url == BASE + "apps/ORDERS/i-1?overriddenstatus=OUT_OF_SERVICE"


def test_heartbeat_answered_409_carries_the_servers_instance() -> None:
    conflict = payload("heartbeat_conflict.xml")
    client, _ = _client(lambda r: answer(409, conflict, {"content-type": "application/xml"}))

    response = client.send_heartbeat("ORDERS", "ip-10-0-0-11.ec2.internal:orders:8080")

    assert response.status == 409
    server_copy = response.require_entity()
    assert server_copy.status is InstanceStatus.OUT_OF_SERVICE
    assert server_copy.last_dirty_timestamp == 1712957614000


def test_status_update_and_override_removal_paths() -> None:
    client, transport = _client()

    client.status_update("orders", "i-1", InstanceStatus.OUT_OF_SERVICE, last_dirty_timestamp=5)
    client.delete_status_override("orders", "i-1", status=InstanceStatus.UP)
    client.delete_status_override("orders", "i-1")
    client.cancel("orders", "i-1")

    assert [(r.method, r.url.removeprefix(BASE)) for r in transport.requests] == [
        ("PUT", "apps/ORDERS/i-1/status?value=OUT_OF_SERVICE&lastDirtyTimestamp=5"),
        ("DELETE", "apps/ORDERS/i-1/status?value=UP"),
        ("DELETE", "apps/ORDERS/i-1/status"),
        ("DELETE", "apps/ORDERS/i-1"),
    ]


def test_read_paths_and_regions() -> None:
    client, transport = _client(lambda r: answer(404))

    client.get_applications(["us-west-2", "eu-west-1"])
    client.get_delta()
    client.get_vip("orders")
    client.get_secure_vip("orders-secure")
    client.get_application("orders")
    client.get_instance("orders", "a/b")
    client.get_instance_by_id("i-1")

    assert [r.url.removeprefix(BASE) for r in transport.requests] == [
        "apps/?regions=us-west-2,eu-west-1",
        "apps/delta",
        "vips/orders",
        "svips/orders-secure",
        "apps/orders",
        "apps/ORDERS/a%2Fb",
        "instances/i-1",
    ]
    assert all(r.method == "GET" for r in transport.requests)


@pytest.mark.parametrize(
    ("sample", "content_type"),
    [("apps_full.json", "application/json"), ("apps_full.xml", "application/xml")],
)
def test_full_registry_in_netflix_shapes_decodes(sample: str, content_type: str) -> None:
    body = payload(sample)
    client, _ = _client(lambda r: answer(200, body, {"content-type": content_type}))

    apps = client.get_applications().require_entity()

    assert (apps.version, apps.apps_hashcode) == ("1", "DOWN_1_UP_2_")
    orders = apps.get("orders")
    assert orders is not None
    first = orders.get("ip-10-0-0-11.ec2.internal:orders:8080")
    assert first is not None
    assert (first.port.port, first.port.enabled) == (8080, True)
    assert (first.secure_port.port, first.secure_port.enabled) == (443, False)
    assert first.metadata == {"management.port": "8081", "zone": "us-east-1a"}
    assert first.lease_info.last_renewal_timestamp == 1712957314871
    assert first.health_check_url == "http://ip-10-0-0-11.ec2.internal:8081/actuator/health"
    second = orders.get("ip-10-0-0-12.ec2.internal:orders:8080")
    assert second is not None and second.status is InstanceStatus.DOWN
    assert second.metadata == {}
    payments = apps.get("PAYMENTS")
    assert payments is not None
    [amazon] = payments.instances
    assert amazon.data_center_info.name == "Amazon"
    assert amazon.data_center_info.metadata["availability-zone"] == "us-east-1b"
    assert amazon.vip_names() == ("payments", "payments-v2")
    assert amazon.asg_name == "payments-v042"


def test_delta_with_action_types_and_a_lone_instance_object_decodes() -> None:
    body = payload("delta.json")
    client, _ = _client(lambda r: json_answer(body))

    delta = client.get_delta().require_entity()

    actions = {i.instance_id: i.action_type for i in delta.instances()}
    assert actions == {
        "ip-10-0-0-11.ec2.internal:orders:8080": ActionType.MODIFIED,
        "ip-10-0-0-12.ec2.internal:orders:8080": ActionType.DELETED,
        "i-0a1b2c3d4e5f": ActionType.ADDED,
    }
    assert delta.apps_hashcode == "OUT_OF_SERVICE_1_UP_1_"


def test_answer_format_is_read_from_the_body_when_the_header_is_missing() -> None:
    body = payload("apps_full.xml")
    client, _ = _client(lambda r: answer(200, body))

    assert client.get_applications().require_entity().apps_hashcode == "DOWN_1_UP_2_"


def test_unreadable_success_body_is_an_invalid_response() -> None:
    client, _ = _client(lambda r: json_answer(b'{"applications": 7}'))

    with pytest.raises(InvalidResponse, match="eureka-a:8761"):
        client.get_applications()


def test_error_answers_keep_the_servers_reason() -> None:
    client, _ = _client(lambda r: answer(400, b"hostName is missing"))

    response = client.register(instance(1))

    assert (response.status, response.ok, response.text) == (400, False, "hostName is missing")


def test_request_headers_ask_for_gzip_and_compact_and_carry_basic_auth() -> None:
    client, transport = _client(
        lambda r: answer(404), url="http://ops:s%40cret@eureka-a:8761/eureka", compact=True
    )

    client.get_applications()

    [sent] = transport.requests
    assert sent.url == BASE + "apps/"
    assert sent.header("Accept-Encoding") == "gzip"
    assert sent.header("X-Eureka-Accept") == "compact"
    # "ops:s@cret" in base64
    assert sent.header("Authorization") == "Basic b3BzOnNAY3JldA=="


def test_a_replication_client_marks_every_request_and_others_mark_none() -> None:
    def handle(request: HttpRequest) -> HttpResponse:
        return apps_answer([]) if request.method == "GET" else answer(200)

    transport = MockTransport(handle)
    peer = RestEurekaHttpClient(EurekaEndpoint.parse(BASE), transport, replication=True)
    plain, plain_transport = _client(handle)

    for client in (peer, plain):
        client.register(instance(1))
        client.send_heartbeat("ORDERS", "i-1")
        client.cancel("ORDERS", "i-1")
        client.get_applications()

    assert [r.header("x-netflix-discovery-replication") for r in transport.requests] == ["true"] * 4
    assert [r.header("x-netflix-discovery-replication") for r in plain_transport.requests] == [
        None
    ] * 4


def test_an_answer_without_timestamps_is_dated_by_the_clients_clock() -> None:
    body = payload("apps_full.json")
    clock = ManualClock(1_234_000)
    transport = MockTransport(lambda r: json_answer(_without_last_dirty_timestamps(body)))
    client = RestEurekaHttpClient(EurekaEndpoint.parse(BASE), transport, clock=clock)

    apps = client.get_applications().require_entity()

    assert {i.last_dirty_timestamp for i in apps.instances()} == {1_234_000}


def _without_last_dirty_timestamps(body: bytes) -> bytes:
    tree = orjson.loads(body)
    for app in tree["applications"]["application"]:
        members = app["instance"]
        for member in members if isinstance(members, list) else [members]:
            member.pop("lastDirtyTimestamp", None)
    return orjson.dumps(tree)


def test_shutdown_closes_the_transport() -> None:
    client, transport = _client()

    with client:
        pass

    assert transport.closed


def test_a_renewed_heartbeat_with_an_unreadable_body_still_counts() -> None:
    client, _ = _client(lambda r: answer(200, b"<html>ok</html>", {"content-type": "text/html"}))

    response = client.send_heartbeat("ORDERS", "i-1")

    assert (response.status, response.entity) == (200, None)


def test_a_heartbeat_conflict_with_an_unreadable_body_is_an_invalid_response() -> None:
    client, _ = _client(lambda r: answer(409, b"{not json", {"content-type": "application/json"}))

    with pytest.raises(InvalidResponse):
        client.send_heartbeat("ORDERS", "i-1")


def test_a_watch_sends_index_and_wait_and_asks_the_transport_to_wait_that_much_longer() -> None:
    def indexed(request: HttpRequest) -> HttpResponse:
        response = apps_answer([instance(1)])
        return HttpResponse(200, {**response.headers, "x-eureka-index": "42"}, response.body)

    client, transport = _client(indexed)

    watched = client.get_delta(("us-east-1",), index=41, wait_s=30)
    client.get_delta(index=41, wait_s=1.5)
    client.get_delta(index=0)
    polled = client.get_delta()

    urls = [r.url for r in transport.requests]
    assert urls == [
        BASE + "apps/delta?regions=us-east-1&index=41&wait=30s",
        BASE + "apps/delta?index=41&wait=1500ms",
        BASE + "apps/delta?index=0",
        BASE + "apps/delta",
    ]
    # The server's default wait (30 s) when none is named; a poll holds nothing.
    assert [r.hold_s for r in transport.requests] == [30, 1.5, 30, 0]
    assert watched.index == 42
    assert [i.instance_id for i in polled.require_entity().instances()] == [instance(1).instance_id]


@pytest.mark.parametrize(
    ("header", "index"),
    [(None, None), ("7", 7), (" 12 ", 12), ("0", 0), ("-1", None), ("soon", None), ("", None)],
)
def test_the_index_of_an_answer_is_its_header_when_it_is_a_count(
    header: str | None, index: int | None
) -> None:
    headers = {} if header is None else {"x-eureka-index": header}
    client, _ = _client(lambda request: HttpResponse(200, headers, b"{}"))

    assert client.get_instance("ORDERS", "a").index == index


def test_a_watch_with_a_bad_index_or_wait_is_refused_before_sending() -> None:
    client, transport = _client()

    with pytest.raises(ValueError, match="negative"):
        client.get_delta(index=-1)
    for wait_s in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="positive"):
            client.get_delta(index=1, wait_s=wait_s)
    assert transport.requests == []


@pytest.mark.parametrize("fmt", list(WireFormat), ids=lambda f: f.name)
def test_a_second_full_fetch_shows_every_change_and_reuses_the_rest(fmt: WireFormat) -> None:
    current = [instance(n) for n in range(1, 6)]

    def registry(request: HttpRequest) -> HttpResponse:
        body = encode_applications(Applications.of(current), fmt)
        return answer(200, body, {"content-type": fmt.content_type})

    client, _ = _client(registry, wire_format=fmt)
    first = client.get_applications().entity
    current[1] = current[1].evolve(status=InstanceStatus.DOWN, last_dirty_timestamp=9)
    second = client.get_applications().entity
    assert first is not None and second is not None
    assert second == Applications.of(current)
    old, new = first.applications[0].instances, second.applications[0].instances
    assert [a is b for a, b in zip(old, new, strict=True)] == [True, False, True, True, True]
