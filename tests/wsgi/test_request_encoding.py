"""Request bodies sent with ``Content-Encoding`` (Java peers and clients may gzip them).

gzip (and its alias x-gzip) is decoded, identity is the body as sent, anything else is a 415 with
the reason. The body limit applies to the *decoded* body: a gzip bomb is a 413 and is never
inflated whole.
"""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import falcon.testing
import orjson
import pytest

from eureka_embed.registry import Registry
from tests.wsgi.adapters import AppFactory
from tests.wsgi.helpers import BASES, instance_id, json_body

LIMIT = 64 * 1024


@pytest.fixture
def small_client(create_app: AppFactory, registry: Registry) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(registry, max_body_bytes=LIMIT))


def _register(
    client: falcon.testing.TestClient, body: bytes, encoding: str, base: str = "/eureka"
) -> falcon.testing.Result:
    return client.simulate_post(
        f"{base}/apps/ORDERS",
        body=body,
        headers={"Content-Type": "application/json", "Content-Encoding": encoding},
    )


def _batch(n: int = 1) -> bytes:
    item = {
        "appName": "ORDERS",
        "id": instance_id(n),
        "lastDirtyTimestamp": 1000,
        "action": "Register",
        "instanceInfo": orjson.loads(json_body(n))["instance"],
    }
    return orjson.dumps({"replicationList": [item]})


def _post_batch(
    client: falcon.testing.TestClient, body: bytes, encoding: str
) -> falcon.testing.Result:
    return client.simulate_post(
        "/eureka/peerreplication/batch/",
        body=body,
        headers={"Content-Type": "application/json", "Content-Encoding": encoding},
    )


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "GZIP", "identity", "gzip, identity"])
def test_a_registration_in_any_accepted_encoding_registers(
    small_client: falcon.testing.TestClient, registry: Registry, base: str, encoding: str
) -> None:
    body = json_body(1)
    sent = body if encoding == "identity" else gzip.compress(body)

    result = _register(small_client, sent, encoding, base)

    assert result.status_code == 204, result.text
    assert registry.get_instance("ORDERS", instance_id(1)) is not None


def test_a_gzipped_replication_batch_is_applied(
    small_client: falcon.testing.TestClient, registry: Registry
) -> None:
    result = _post_batch(small_client, gzip.compress(_batch(2)), "gzip")

    assert result.status_code == 200, result.text
    assert result.json == {"responseList": [{"statusCode": 200}]}
    assert registry.get_instance("ORDERS", instance_id(2)) is not None


def test_two_concatenated_gzip_members_are_one_body(
    small_client: falcon.testing.TestClient, registry: Registry
) -> None:
    body = json_body(1)
    sent = gzip.compress(body[:10]) + gzip.compress(body[10:])

    assert _register(small_client, sent, "gzip").status_code == 204


def _bomb(decoded_size: int) -> bytes:
    """A gzip body of ``decoded_size`` zero bytes (about a thousandth of it on the wire)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1 << 20)
    parts = [packer.compress(chunk) for _ in range(decoded_size // len(chunk))]
    parts.append(packer.flush())
    return b"".join(parts)


@pytest.mark.parametrize("post", [_register, _post_batch], ids=["register", "batch"])
def test_a_gzip_bomb_is_413_without_inflating_it(
    small_client: falcon.testing.TestClient, registry: Registry, post: object
) -> None:
    bomb = _bomb(32 << 20)  # 32 MiB of zeros in about 32 KiB
    assert len(bomb) < LIMIT  # the body as sent is within the limit; decoded it is not
    assert callable(post)

    tracemalloc.start()
    try:
        result = post(small_client, bomb, "gzip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.status_code == 413, result.text
    assert str(LIMIT) in result.text
    assert peak < 8 << 20  # decoding stopped near the limit, far below the 32 MiB inside
    assert registry.get_applications().applications == ()


def test_a_decoded_body_exactly_at_the_limit_is_accepted(
    create_app: AppFactory, registry: Registry
) -> None:
    body = json_body(1)
    client = falcon.testing.TestClient(create_app(registry, max_body_bytes=len(body)))

    assert _register(client, gzip.compress(body), "gzip").status_code == 204
    too_small = falcon.testing.TestClient(create_app(registry, max_body_bytes=len(body) - 1))
    assert _register(too_small, gzip.compress(body), "gzip").status_code == 413


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(b"definitely not gzip", id="not-gzip"),
        pytest.param(gzip.compress(json_body(1))[:-12], id="truncated"),
        pytest.param(gzip.compress(json_body(1))[:-4] + b"\0\0\0\0", id="bad-length"),
    ],
)
@pytest.mark.parametrize("post", [_register, _post_batch], ids=["register", "batch"])
def test_a_corrupt_gzip_body_is_400_with_a_reason(
    small_client: falcon.testing.TestClient, registry: Registry, corrupt: bytes, post: object
) -> None:
    assert callable(post)
    result = post(small_client, corrupt, "gzip")

    assert result.status_code == 400
    assert "gzip" in result.text
    assert result.headers["Content-Type"].startswith("text/plain")
    assert registry.get_applications().applications == ()


@pytest.mark.parametrize("encoding", ["br", "deflate", "compress", "zstd, gzip"])
@pytest.mark.parametrize("post", [_register, _post_batch], ids=["register", "batch"])
def test_an_unknown_encoding_is_415_naming_what_is_accepted(
    small_client: falcon.testing.TestClient, registry: Registry, encoding: str, post: object
) -> None:
    assert callable(post)
    result = post(small_client, json_body(1), encoding)

    assert result.status_code == 415
    assert "gzip" in result.text
    assert encoding.split(",", maxsplit=1)[0] in result.text
    assert registry.get_applications().applications == ()
