"""The register rules: what an instance must satisfy to be registered, written once.

:meth:`Registry.register <eureka_embed.registry.Registry.register>` applies them, once per
registration, whichever way it arrives (HTTP, a peer's replication batch, the in-process client,
a direct call), and :meth:`~eureka_embed.registry.Registry.update_metadata` applies the metadata
rule. The codec only decodes; a registration it reads keeps what the client sent (an absent
``dataCenterInfo`` name stays empty) so that these rules judge it. A broken rule raises
:class:`~eureka_embed.errors.ValidationError` whose reason names the field as the wire spells it
(``instance.hostName is missing``): the same text in-process and in an HTTP 400 body.

Eureka's checks, in its order: instanceId, hostName, ipAddr and app present and not blank; the app
the one the instance is registered under (the URL's, over HTTP); a dataCenterInfo name. Then ours:

- the dataCenterInfo name is one Java's ``DataCenterInfo.Name`` enum knows, spelled as it does
  (Netflix, Amazon, MyOwn: Java clients fail on anything else; the codec fixes the case of what
  it reads);
- instanceId and app are at most :data:`MAX_KEY_LENGTH` characters: the SQL stores key leases by
  them in ``VARCHAR(255)`` columns, and every store must accept the same registrations (the other
  fields live inside the stored payload, which has no length limit);
- every string can be carried by XML 1.0, and metadata keys are XML element names, so that an
  instance is served unchanged in both formats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from eureka_embed.codec.readers import DATA_CENTER_NAMES, XML_ILLEGAL_CHARS, XML_NAME, brief_repr
from eureka_embed.errors import ValidationError
from eureka_embed.model import InstanceInfo

__all__ = ["MAX_KEY_LENGTH", "check_metadata", "check_registration"]

MAX_KEY_LENGTH: Final = 255
"""The most characters an instance id or an app name may have (the SQL stores' key columns)."""

_PATH: Final = "instance"

# Attribute and wire name of the fields Eureka requires, in the order it checks them.
_REQUIRED: Final = (
    ("instance_id", "instanceId"),
    ("host_name", "hostName"),
    ("ip_addr", "ipAddr"),
    ("app", "app"),
)

# Attribute and wire name of every other free-text field, for the XML rule.
_OPTIONAL_TEXT: Final = (
    ("sid", "sid"),
    ("app_group_name", "appGroupName"),
    ("home_page_url", "homePageUrl"),
    ("status_page_url", "statusPageUrl"),
    ("health_check_url", "healthCheckUrl"),
    ("secure_health_check_url", "secureHealthCheckUrl"),
    ("vip_address", "vipAddress"),
    ("secure_vip_address", "secureVipAddress"),
    ("asg_name", "asgName"),
)

_KNOWN_DATA_CENTERS: Final = frozenset(DATA_CENTER_NAMES.values())


def check_registration(instance: InstanceInfo, *, expected_app: str | None = None) -> None:
    """Raise :class:`ValidationError` with the first register rule ``instance`` breaks.

    ``expected_app`` is the application it is registered under (the URL's app over HTTP), if the
    caller names one; any case matches.
    """
    reason = _broken_rule(instance, expected_app)
    if reason is not None:
        raise ValidationError(reason)


def check_metadata(entries: Mapping[str, str], path: str = "metadata") -> None:
    """Raise :class:`ValidationError` unless ``entries`` is metadata a registration may carry."""
    reason = _map_problem(entries, path)
    if reason is not None:
        raise ValidationError(reason)


def _broken_rule(instance: InstanceInfo, expected_app: str | None) -> str | None:
    """The reason of the first rule ``instance`` breaks, or None: every rule runs from here."""
    for attr, wire in _REQUIRED:
        text = getattr(instance, attr)
        if not text or not text.strip():
            return f"{_PATH}.{wire} is missing"
    app = instance.app.upper()
    if expected_app is not None and app != expected_app.upper():
        return (
            f"{_PATH}.app {brief_repr(app)} does not match the application it is registered "
            f"under, {brief_repr(expected_app.upper())}"
        )
    name = instance.data_center_info.name
    if not name.strip():
        return f"{_PATH}.dataCenterInfo.name is missing"
    if name not in _KNOWN_DATA_CENTERS:
        return (
            f"{_PATH}.dataCenterInfo.name {brief_repr(name)} is not one of Netflix, Amazon, MyOwn"
        )
    # The stores keep the app upper-cased, and upper-casing can lengthen it ("ß" -> "SS").
    for wire, key in (("instanceId", instance.instance_id), ("app", app)):
        if len(key) > MAX_KEY_LENGTH:
            return (
                f"{_PATH}.{wire} is {len(key)} characters long; at most {MAX_KEY_LENGTH} are "
                "allowed"
            )
    return _xml_problem(instance)


def _xml_problem(instance: InstanceInfo) -> str | None:
    """Why the XML writer could not serve ``instance`` unchanged, or None."""
    for attr, wire in _REQUIRED + _OPTIONAL_TEXT:
        text = getattr(instance, attr)
        if text is not None:
            reason = _text_problem(text, f"{_PATH}.{wire}")
            if reason is not None:
                return reason
    # The data center's name is one of three known ones by now.
    return _map_problem(
        instance.data_center_info.metadata, f"{_PATH}.dataCenterInfo.metadata"
    ) or _map_problem(instance.metadata, f"{_PATH}.metadata")


def _text_problem(text: str, path: str) -> str | None:
    bad = XML_ILLEGAL_CHARS.search(text)
    if bad is None:
        return None
    return f"{path} contains U+{ord(bad.group()):04X}, which XML cannot carry"


def _map_problem(entries: Mapping[str, str], path: str) -> str | None:
    for key, text in entries.items():
        # Callers in code may pass anything; a map of strings is what the payloads can carry.
        if not isinstance(key, str) or not isinstance(text, str):
            return f"{path} must map names to strings, got {brief_repr(key)}"
        if not XML_NAME.fullmatch(key):
            return (
                f"{path} key {brief_repr(key)} is not allowed: keys are written as XML element "
                "names (letters, digits, '.', '-', '_'; starting with a letter or '_')"
            )
        reason = _text_problem(text, f"{path}.{key}")
        if reason is not None:
            return reason
    return None
