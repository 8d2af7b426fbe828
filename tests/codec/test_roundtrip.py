"""decode(encode(x)) == x for every valid model object, in both formats; compact keeps its part."""

from __future__ import annotations

import pytest
from hypothesis import given

from eureka_embed.codec import (
    WireFormat,
    decode_application,
    decode_applications,
    decode_instance,
    encode_application,
    encode_applications,
    encode_instance,
    instance_from_dict,
    instance_to_dict,
)
from eureka_embed.model import (
    Application,
    Applications,
    DataCenterInfo,
    InstanceInfo,
    InstanceStatus,
    LeaseInfo,
)
from tests.codec import strategies

NOW = 1_712_957_014_863
FORMATS = pytest.mark.parametrize("fmt", list(WireFormat), ids=lambda f: f.name)


@FORMATS
@given(instance=strategies.instances())
def test_instance_round_trips(fmt: WireFormat, instance: InstanceInfo) -> None:
    assert decode_instance(encode_instance(instance, fmt), fmt) == instance


@FORMATS
@given(application=strategies.applications())
def test_application_round_trips(fmt: WireFormat, application: Application) -> None:
    body = encode_application(application, fmt)
    assert decode_application(body, fmt) == application


@FORMATS
@given(registry=strategies.registries)
def test_applications_round_trip(fmt: WireFormat, registry: Applications) -> None:
    body = encode_applications(registry, fmt)
    assert decode_applications(body, fmt) == registry


@given(instance=strategies.instances())
def test_instance_dict_round_trips(instance: InstanceInfo) -> None:
    assert instance_from_dict(instance_to_dict(instance)) == instance


def _compact_view(instance: InstanceInfo) -> InstanceInfo:
    """What survives the compact form: the dropped fields read back as their defaults."""
    return instance.evolve(
        sid=None,
        overridden_status=InstanceStatus.UNKNOWN,
        country_id=1,
        lease_info=LeaseInfo(),
        metadata={},
        app_group_name=None,
        home_page_url=None,
        status_page_url=None,
        health_check_url=None,
        secure_health_check_url=None,
        is_coordinating_discovery_server=False,
        last_dirty_timestamp=NOW,
    )


@FORMATS
@given(instance=strategies.instances())
def test_compact_instance_keeps_the_compact_fields(fmt: WireFormat, instance: InstanceInfo) -> None:
    body = encode_instance(instance, fmt, compact=True)
    assert decode_instance(body, fmt, now_ms=NOW) == _compact_view(instance)


@FORMATS
@given(registry=strategies.registries)
def test_compact_registry_keeps_the_compact_fields(fmt: WireFormat, registry: Applications) -> None:
    decoded = decode_applications(encode_applications(registry, fmt, compact=True), fmt, now_ms=NOW)
    assert decoded == Applications(
        tuple(
            Application(app.name, tuple(_compact_view(i) for i in app.instances))
            for app in registry.applications
        ),
        registry.version,
        registry.apps_hashcode,
    )


@FORMATS
def test_amazon_data_center_metadata_round_trips(fmt: WireFormat) -> None:
    amazon = DataCenterInfo("Amazon", {"instance-id": "i-0abc", "availability-zone": "us-east-1a"})
    instance = InstanceInfo("i-0abc", "APP", "ip-10-0-0-1", "10.0.0.1", data_center_info=amazon)
    assert decode_instance(encode_instance(instance, fmt), fmt) == instance
