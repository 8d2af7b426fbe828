"""The per-instance JSON cache gives the bytes a plain encoding gives, and re-encodes changes."""

from __future__ import annotations

import orjson
import pytest

from eureka_embed.codec import EncodedInstances, WireFormat, encode_applications
from eureka_embed.model import Applications, InstanceInfo, InstanceStatus


def registry(*instances: InstanceInfo) -> Applications:
    return Applications.of(instances, version="3")


def make(n: int, **changes: object) -> InstanceInfo:
    info = InstanceInfo(f"i{n}", "APP", f"h{n}", "10.0.0.1", metadata={"zone": "a"})
    return info.evolve(**changes) if changes else info


@pytest.mark.parametrize("compact", [False, True])
def test_cached_encoding_equals_a_fresh_one_through_changes(compact: bool) -> None:
    cache = EncodedInstances(compact=compact)
    first = registry(make(1), make(2))
    assert encode_applications(
        first, WireFormat.JSON, compact=compact, json_cache=cache
    ) == encode_applications(first, WireFormat.JSON, compact=compact)
    # A changed instance is a new object: its new state must show, not the cached bytes.
    second = registry(make(1, status=InstanceStatus.DOWN), make(2))
    cached = encode_applications(second, WireFormat.JSON, compact=compact, json_cache=cache)
    assert cached == encode_applications(second, WireFormat.JSON, compact=compact)
    statuses = [
        i["status"] for i in orjson.loads(cached)["applications"]["application"][0]["instance"]
    ]
    assert statuses == ["DOWN", "UP"]


def test_unchanged_instances_are_not_encoded_again() -> None:
    cache = EncodedInstances()
    kept = make(1)
    apps = registry(kept, make(2))
    encode_applications(apps, WireFormat.JSON, json_cache=cache)
    assert cache.fragment(kept) is cache.fragment(kept)


def test_retain_forgets_instances_that_left() -> None:
    cache = EncodedInstances()
    everyone = [make(n) for n in range(200)]
    encode_applications(registry(*everyone), WireFormat.JSON, json_cache=cache)
    assert len(cache) == 200
    few = registry(*everyone[:10])
    cache.retain(few)
    assert len(cache) == 10


def test_a_cache_of_the_other_form_is_refused() -> None:
    with pytest.raises(ValueError, match="compactness"):
        encode_applications(
            registry(make(1)), WireFormat.JSON, compact=True, json_cache=EncodedInstances()
        )
