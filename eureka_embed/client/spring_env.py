"""Client settings from the environment, under the names Spring services' containers use.

Spring Boot reads ``eureka.instance.prefer-ip-address`` from ``EUREKA_INSTANCE_PREFERIPADDRESS``
(dots to underscores, dashes dropped, upper case) and also from the older form with the dashes
as underscores, ``EUREKA_INSTANCE_PREFER_IP_ADDRESS``; both are read here, and setting both to
different values is an error rather than a guess. Only the settings
:class:`~eureka_embed.client.config.DiscoveryConfig` has are read (table in :data:`SETTINGS`);
a value that does not parse is an :class:`InvalidEnvironment` naming the variable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eureka_embed import option_values as values
from eureka_embed.client.endpoints import parse_service_urls
from eureka_embed.errors import InvalidInput
from eureka_embed.model import InstanceStatus

__all__ = ["SETTINGS", "InvalidEnvironment", "Setting", "read_environment"]

_SERVICE_URL_PREFIX = "EUREKA_CLIENT_SERVICEURL_"
_METADATA_PREFIX = "EUREKA_INSTANCE_METADATAMAP_"
_DEFAULT_ZONE = "defaultZone"


class InvalidEnvironment(InvalidInput):
    """An environment variable holds a value its setting cannot take."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable = variable


_seconds = values.positive_seconds


def _text(value: str) -> str:
    return value


def _delay(value: str) -> float:
    # option_values.positive_seconds refuses 0, which here means "at once".
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"must be a number of seconds >= 0, got {value!r}")
    return seconds


def _status(value: str) -> InstanceStatus:
    try:
        return InstanceStatus(value.strip().upper())
    except ValueError:
        names = ", ".join(s.value for s in InstanceStatus)
        raise ValueError(f"must be an instance status ({names}), got {value!r}") from None


def _regions(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True, slots=True)
class Setting:
    """A Spring property and the field it sets (``transport.`` fields are TransportConfig's)."""

    prop: str
    field: str
    parse: Callable[[str], Any] = _text

    @property
    def variables(self) -> tuple[str, ...]:
        """Spring Boot's two environment forms of the property, the canonical one first."""
        upper = self.prop.upper().replace(".", "_")
        canonical = upper.replace("-", "")
        legacy = upper.replace("-", "_")
        return (canonical,) if legacy == canonical else (canonical, legacy)


SETTINGS: tuple[Setting, ...] = (
    Setting("spring.application.name", "app_name"),
    Setting("eureka.instance.appname", "app_name"),
    Setting("eureka.instance.instance-id", "instance_id"),
    Setting("eureka.instance.hostname", "host_name"),
    Setting("eureka.instance.ip-address", "ip_addr"),
    Setting("eureka.instance.prefer-ip-address", "prefer_ip_address", values.boolean),
    Setting("server.port", "port", values.port),
    Setting("eureka.instance.non-secure-port", "port", values.port),
    Setting("eureka.instance.non-secure-port-enabled", "port_enabled", values.boolean),
    Setting("eureka.instance.secure-port", "secure_port", values.port),
    Setting("eureka.instance.secure-port-enabled", "secure_port_enabled", values.boolean),
    Setting("eureka.instance.virtual-host-name", "vip_address"),
    Setting("eureka.instance.secure-virtual-host-name", "secure_vip_address"),
    Setting("eureka.instance.home-page-url", "home_page_url"),
    Setting("eureka.instance.status-page-url", "status_page_url"),
    Setting("eureka.instance.health-check-url", "health_check_url"),
    Setting("eureka.instance.initial-status", "initial_status", _status),
    Setting(
        "eureka.instance.lease-renewal-interval-in-seconds", "lease_renewal_interval_s", _seconds
    ),
    Setting("eureka.instance.lease-expiration-duration-in-seconds", "lease_duration_s", _seconds),
    Setting("eureka.client.register-with-eureka", "register_with_eureka", values.boolean),
    Setting("eureka.client.fetch-registry", "fetch_registry", values.boolean),
    Setting("eureka.client.registry-fetch-interval-seconds", "registry_fetch_interval_s", _seconds),
    Setting(
        "eureka.client.instance-info-replication-interval-seconds",
        "instance_info_replication_interval_s",
        _seconds,
    ),
    Setting(
        "eureka.client.initial-instance-info-replication-interval-seconds",
        "initial_delay_s",
        _delay,
    ),
    Setting(
        "eureka.client.heartbeat-executor-exponential-back-off-bound",
        "heartbeat_backoff_bound",
        values.whole_number(1),
    ),
    Setting(
        "eureka.client.cache-refresh-executor-exponential-back-off-bound",
        "fetch_backoff_bound",
        values.whole_number(1),
    ),
    Setting("eureka.client.disable-delta", "disable_delta", values.boolean),
    Setting("eureka.client.filter-only-up-instances", "filter_only_up_instances", values.boolean),
    Setting("eureka.client.fetch-remote-regions-registry", "fetch_regions", _regions),
    Setting(
        "eureka.client.eureka-server-connect-timeout-seconds",
        "transport.connect_timeout_s",
        _seconds,
    ),
    Setting(
        "eureka.client.eureka-server-read-timeout-seconds", "transport.read_timeout_s", _seconds
    ),
    Setting(
        "eureka.client.eureka-server-total-connections-per-host",
        "transport.max_connections_per_host",
        values.whole_number(1),
    ),
    Setting("eureka.client.g-zip-content", "transport.gzip", values.boolean),
)


def read_environment(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The DiscoveryConfig and TransportConfig fields ``env`` sets, parsed.

    A later row of :data:`SETTINGS` wins over an earlier one for the same field (Spring's
    ``eureka.instance.appname`` over ``spring.application.name``). An empty text setting counts
    as unset. ``EUREKA_CLIENT_SERVICEURL_<ZONE>`` gives the service URLs (a map of zones when
    more than ``DEFAULTZONE`` is set), ``EUREKA_INSTANCE_METADATAMAP_<KEY>`` the metadata (keys
    in lower case); metadata ``zone`` is also the client's zone, as in Spring Cloud.
    """
    fields: dict[str, Any] = {}
    transport: dict[str, Any] = {}
    for setting in SETTINGS:
        found = _lookup(env, setting.variables)
        if found is None:
            continue
        variable, value = found
        if setting.parse is _text and not value.strip():
            continue
        try:
            parsed = setting.parse(value)
        except ValueError as exc:
            raise InvalidEnvironment(variable, str(exc)) from None
        if setting.field.startswith("transport."):
            transport[setting.field.removeprefix("transport.")] = parsed
        else:
            fields[setting.field] = parsed
    urls = _service_urls(env)
    if urls is not None:
        fields["service_urls"] = urls
    metadata = {
        name.removeprefix(_METADATA_PREFIX).lower(): value
        for name, value in env.items()
        if name.startswith(_METADATA_PREFIX) and len(name) > len(_METADATA_PREFIX)
    }
    if metadata:
        fields["metadata"] = metadata
        if metadata.get("zone"):
            fields["zone"] = metadata["zone"]
    return fields, transport


def _lookup(env: Mapping[str, str], variables: tuple[str, ...]) -> tuple[str, str] | None:
    present = [(name, env[name]) for name in variables if name in env]
    if not present:
        return None
    if len({value for _, value in present}) > 1:
        names = " and ".join(name for name, _ in present)
        raise InvalidEnvironment(present[0][0], f"{names} are both set, to different values")
    return present[0]


def _service_urls(env: Mapping[str, str]) -> str | dict[str, str] | None:
    zones: dict[str, str] = {}
    for name, value in env.items():
        if not name.startswith(_SERVICE_URL_PREFIX) or len(name) == len(_SERVICE_URL_PREFIX):
            continue
        key = name.removeprefix(_SERVICE_URL_PREFIX).lower()
        try:
            if not parse_service_urls(value):
                raise InvalidEnvironment(name, "no service URL given")
        except InvalidInput as exc:
            # The reason shows the URL without its credentials.
            raise InvalidEnvironment(name, exc.reason) from None
        zones[_DEFAULT_ZONE if key == _DEFAULT_ZONE.lower() else key] = value
    if not zones:
        return None
    if list(zones) == [_DEFAULT_ZONE]:
        return zones[_DEFAULT_ZONE]
    return zones
