"""Answers assembled from cached pieces read exactly as answers encoded from scratch.

RegistryPayloads keeps per-instance encodings, per-application segments and their compressed
forms between reads; a stale piece would show as a client reading an instance that changed or
left. After any sequence of writes, with reads in between to warm (and stale) every cache, each
answer must be byte for byte what the codec writes from the registry's model, and its gzip one
member that decompresses to those bytes.
"""

from __future__ import annotations

import dataclasses
import gzip
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eureka_embed.http.payloads as payloads_module
from eureka_embed.clock import ManualClock
from eureka_embed.codec import (
    WireFormat,
    decode_application,
    decode_applications,
    encode_application,
    encode_applications,
)
from eureka_embed.config import RegistryConfig
from eureka_embed.errors import InstanceNotFound
from eureka_embed.http import gzip_segments
from eureka_embed.http.negotiation import Variant
from eureka_embed.http.payload_cache import PayloadCache
from eureka_embed.http.payloads import Payload, RegistryPayloads
from eureka_embed.model import InstanceInfo, InstanceStatus, LeaseInfo
from eureka_embed.registry import Registry
from tests.codec.strategies import instances

APPS = ["ALPHA", "BETA", "GAMMA"]
IDS = ["i1", "i2", "i3"]
VIPS = ["vip-a", "vip-b", "vip-a,vip-b"]
VARIANTS = [
    Variant(fmt, compact, zipped)
    for fmt in WireFormat
    for compact in (False, True)
    for zipped in (False, True)
]


@st.composite
def registrations(draw: st.DrawFn) -> InstanceInfo:
    base = draw(instances(st.sampled_from(APPS)))
    return dataclasses.replace(
        base,
        instance_id=draw(st.sampled_from(IDS)),
        vip_address=draw(st.sampled_from(VIPS)),
        secure_vip_address=draw(st.none() | st.sampled_from(VIPS)),
        status=draw(st.sampled_from([InstanceStatus.UP, InstanceStatus.DOWN])),
        overridden_status=InstanceStatus.UNKNOWN,
        lease_info=LeaseInfo(renewal_interval_secs=30, duration_secs=90),
        action_type=None,
    )


keys = st.tuples(st.sampled_from(APPS), st.sampled_from(IDS))
operations = st.one_of(
    st.tuples(st.just("register"), registrations()),
    st.tuples(st.just("renew"), keys),
    st.tuples(st.just("cancel"), keys),
    st.tuples(st.just("status"), keys, st.sampled_from(InstanceStatus)),
    st.tuples(st.just("advance"), st.integers(1, 200)),
    st.tuples(st.just("evict")),
)


def apply(registry: Registry, clock: ManualClock, op: tuple[Any, ...]) -> None:
    kind, *args = op
    try:
        if kind == "register":
            registry.register(args[0])
        elif kind == "renew":
            registry.renew(*args[0])
        elif kind == "cancel":
            registry.cancel(*args[0])
        elif kind == "status":
            app, instance_id = args[0]
            registry.update_status(app, instance_id, args[1])
        elif kind == "advance":
            clock.advance(seconds=args[0])
        else:
            registry.evict()
    except InstanceNotFound:
        pass


def plain(payload: Payload, variant: Variant) -> bytes:
    if not variant.gzip:
        return payload.body
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    body = inflater.decompress(payload.body)
    # One member, nothing after it: clients that stop after the first member read it all.
    assert inflater.eof and not inflater.unused_data
    assert gzip.decompress(payload.body) == body
    return body


def check_all(registry: Registry, payloads: RegistryPayloads, now_ms: int) -> None:
    for variant in VARIANTS:
        fmt, compact = variant.fmt, variant.compact
        # No write happens in between: each answer and its model show one registry state.
        answers = [
            (payloads.full(variant), registry.get_applications()),
            (payloads.delta(variant), registry.get_delta()),
        ]
        for vip in ("vip-a", "vip-b"):
            answers.append((payloads.vip(vip, variant), registry.get_vip(vip)))
            answers.append((payloads.vip(vip, variant, secure=True), registry.get_secure_vip(vip)))
        for payload, model in answers:
            body = plain(payload, variant)
            expected = encode_applications(model, fmt, compact=compact)
            assert body == expected
            assert decode_applications(body, fmt, now_ms=now_ms) == decode_applications(
                expected, fmt, now_ms=now_ms
            )
        for name in APPS:
            app_payload = payloads.application(name, variant)
            app = registry.get_application(name)
            if app is None:
                assert app_payload is None
                continue
            assert app_payload is not None
            body = plain(app_payload, variant)
            expected = encode_application(app, fmt, compact=compact)
            assert body == expected
            assert decode_application(body, fmt, now_ms=now_ms) == decode_application(
                expected, fmt, now_ms=now_ms
            )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(operations, max_size=25))
def test_assembled_answers_equal_answers_encoded_from_scratch(
    ops: list[tuple[Any, ...]],
) -> None:
    clock = ManualClock()
    registry = Registry(config=RegistryConfig(self_preservation=False), clock=clock)
    payloads = RegistryPayloads(registry, PayloadCache())
    for op in ops:
        apply(registry, clock, op)
        check_all(registry, payloads, clock.now_ms())


def test_segments_of_applications_that_left_are_dropped() -> None:
    clock = ManualClock()
    registry = Registry(config=RegistryConfig(self_preservation=False), clock=clock)
    payloads = RegistryPayloads(registry, PayloadCache())
    variant = Variant(WireFormat.JSON, False, True)
    base = InstanceInfo(instance_id="x", app="A", host_name="h", ip_addr="1.2.3.4")
    for n in range(50):
        registry.register(dataclasses.replace(base, app=f"APP{n}", instance_id=f"i{n}"))
    payloads.full(variant)
    payloads.delta(variant)
    for n in range(50):
        registry.cancel(f"APP{n}", f"i{n}")
    clock.advance(seconds=RegistryConfig().delta_retention_ms / 1000 + 1)
    payloads.full(variant)
    payloads.delta(variant)
    segments = payloads._registry_segments[WireFormat.JSON, False]
    delta_segments = payloads._delta_segments[WireFormat.JSON, False]
    assert len(segments) == 0
    assert len(delta_segments) == 0


@pytest.mark.parametrize("fmt", list(WireFormat))
def test_one_change_recompresses_only_its_application(fmt: WireFormat) -> None:
    registry = Registry(config=RegistryConfig(self_preservation=False), clock=ManualClock())
    payloads = RegistryPayloads(registry, PayloadCache())
    variant = Variant(fmt, False, True)
    base = InstanceInfo(instance_id="x", app="A", host_name="h", ip_addr="1.2.3.4")
    for n in range(20):
        registry.register(dataclasses.replace(base, app=f"APP{n % 4}", instance_id=f"i{n}"))
    payloads.full(variant)
    segments = payloads._registry_segments[fmt, False]
    before = {name: segments._apps[name] for name in ("APP0", "APP1", "APP2", "APP3")}
    registry.update_status("APP1", "i1", InstanceStatus.DOWN)
    body = plain(payloads.full(variant), variant)
    assert body == encode_applications(registry.get_applications(), fmt)
    after = segments._apps
    assert [name for name in before if after[name] is not before[name]] == ["APP1"]


def _record_compressions(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """What RegistryPayloads hands to zlib from now on, piece by piece (it still compresses)."""
    compressed: list[bytes] = []
    real = gzip_segments.deflate

    def recording(pieces: Any, preceded_by: bytes = b"") -> Any:
        pieces = list(pieces)
        compressed.append(b"".join(pieces))
        return real(pieces, preceded_by)

    monkeypatch.setattr(payloads_module, "deflate", recording)
    return compressed


@pytest.mark.parametrize("fmt", list(WireFormat))
def test_one_change_in_a_large_application_recompresses_a_run_of_it(
    fmt: WireFormat, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = Registry(config=RegistryConfig(self_preservation=False), clock=ManualClock())
    payloads = RegistryPayloads(registry, PayloadCache())
    variant = Variant(fmt, False, True)
    base = InstanceInfo(instance_id="x", app="BIG", host_name="h", ip_addr="1.2.3.4")
    for n in range(1_000):
        registry.register(dataclasses.replace(base, instance_id=f"i{n:04}", host_name=f"h{n}"))
    whole = plain(payloads.full(variant), variant)
    compressed = _record_compressions(monkeypatch)
    registry.update_status("BIG", "i0500", InstanceStatus.DOWN)
    body = plain(payloads.full(variant), variant)
    assert body == encode_applications(registry.get_applications(), fmt)
    # The answer's prefix and suffix, and one or two runs of the changed instance's part of
    # the application: not the application's 1,000 instances.
    assert len(compressed) <= 4
    assert sum(map(len, compressed)) < len(whole) / 10
    # And compressed nearly as a whole body would be: each run refers back into the one
    # before (alone, runs of these small instances take about twice the bytes; each run's
    # block header is what is left, a few percent with instances of real size).
    assert len(payloads.full(variant).body) < 1.25 * len(zlib.compress(body, 3))


@pytest.mark.parametrize("fmt", list(WireFormat))
def test_an_application_that_did_not_change_is_not_compressed_again(
    fmt: WireFormat, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = Registry(config=RegistryConfig(self_preservation=False), clock=ManualClock())
    payloads = RegistryPayloads(registry, PayloadCache())
    variant = Variant(fmt, False, True)
    base = InstanceInfo(instance_id="x", app="CHANGING", host_name="h", ip_addr="1.2.3.4")
    for n in range(100):
        registry.register(dataclasses.replace(base, app="STILL", instance_id=f"still-{n}"))
        registry.register(dataclasses.replace(base, instance_id=f"moving-{n}"))
    payloads.full(variant)
    compressed = _record_compressions(monkeypatch)
    for n in range(3):  # each change a new version, each answer built again
        registry.update_status("CHANGING", f"moving-{n * 40}", InstanceStatus.DOWN)
        body = plain(payloads.full(variant), variant)
        assert body == encode_applications(registry.get_applications(), fmt)
    assert compressed
    assert not [piece for piece in compressed if b"still-" in piece]
