"""Lenient readers: a decoded payload tree -> model objects, shared by the JSON and XML codecs.

A *tree* is what ``orjson.loads`` returns for a Eureka JSON payload; the XML codec turns XML into
the same shape (attributes become ``"@name"`` keys, the text of an element with attributes
becomes ``"$"``, a repeated element becomes a list), so every value-coercion rule lives here once.

Leniency, because real clients disagree on the details:

- ``null`` anywhere means "absent"; so does an empty string for a number, boolean, status or
  object (an empty XML element), and for an optional string field (py_eureka_client sends ``""``).
- numbers may arrive as JSON numbers, integral floats or decimal strings; booleans as JSON
  booleans, ``"true"``/``"false"`` in any case, or 0/1.
- ``port`` may be ``{"$": 8080, "@enabled": "true"}`` or a bare number; ``overriddenStatus`` and
  ``overriddenstatus`` are both read; ``dataCenterInfo`` needs no ``@class`` (its name decides).
- missing instanceId falls back to the Amazon ``instance-id``, then to hostName; missing status is
  UP; missing lastDirtyTimestamp is "now"; unknown keys are ignored; app names are upper-cased.
- ``@``-prefixed keys (``@class``) and ``$`` are dropped from metadata; metadata values are
  coerced to strings (booleans as ``"true"``/``"false"``); a ``null`` value drops the key.
- ``application``/``instance`` may be one object instead of a list (older servers write that).
- a missing sid, or an empty one, is ``None`` (not the model's ``"na"``) so a decoded payload
  re-encodes to what was sent.

Strictness, because a bad value must be a clear 400 and never poison the registry:

- a value that is present but cannot be read (non-numeric port, unknown status or actionType, an
  object where a string belongs) is a :class:`DecodeError` naming the field and value.
- integers must fit a signed 64-bit column; ports must be 0-65535.

Reading is not judging: the register rules live in :mod:`eureka_embed.register_rules` and the
registry applies them. A registration is read with ``registration=True``, which only keeps what
the client sent where the rules need it: a missing or blank dataCenterInfo name stays empty
(registry payloads, read with ``registration=False``, get it from ``@class``). Payloads read
from servers are taken as they are; the XML writer then replaces what XML cannot carry instead
of producing a broken document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import fields
from hashlib import blake2b
from typing import Any, Final, TypeAlias, TypeVar

import orjson

from eureka_embed.clock import system_clock
from eureka_embed.codec.bulk import shared_port, shared_text
from eureka_embed.errors import DecodeError
from eureka_embed.model import (
    AMAZON_DATA_CENTER_CLASS,
    EMPTY_METADATA,
    ActionType,
    Application,
    Applications,
    DataCenterInfo,
    InstanceInfo,
    InstanceStatus,
    LeaseInfo,
    PortInfo,
    frozen_metadata,
    shared_metadata,
)

__all__ = [
    "DATA_CENTER_NAMES",
    "XML_ILLEGAL_CHARS",
    "XML_NAME",
    "DecodedInstances",
    "Tree",
    "brief_repr",
    "read_application",
    "read_applications",
    "read_instance",
    "resolve_now",
]

Tree: TypeAlias = Mapping[str, Any]
"""One decoded JSON object, or an XML element converted to the same shape."""

_T = TypeVar("_T")

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1

# At most 19 significant digits: enough for any int64, and it keeps int() clear of Python's
# 4300-digit conversion limit. Only XML's whitespace around it: ``\s`` would admit characters
# (U+001C..U+001F) that int() rejects.
_INT_TEXT: Final = re.compile(r"[ \t\r\n]*[-+]?0*[0-9]{1,19}[ \t\r\n]*")

XML_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*")
"""Metadata keys become XML element names; this is the safe subset we accept at registration."""

XML_ILLEGAL_CHARS: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot carry, not even as character references (surrogates: not UTF-8)."""

DATA_CENTER_NAMES: Final[Mapping[str, str]] = {
    "netflix": "Netflix",
    "amazon": "Amazon",
    "myown": "MyOwn",
}
"""Java clients map the name onto an enum and fail on anything else: lower-case -> canonical."""

# The model's own defaults: slotted dataclasses keep them only in their fields.
_DEFAULTS: Final[Mapping[str, Any]] = {
    f.name: f.default for cls in (InstanceInfo, Applications) for f in fields(cls)
}
_DEFAULT_PORT: Final[PortInfo] = _DEFAULTS["port"]
_DEFAULT_SECURE_PORT: Final[PortInfo] = _DEFAULTS["secure_port"]
_DEFAULT_VERSION: Final[str] = _DEFAULTS["version"]

_STATUS_CHOICES: Final = ", ".join(s.value for s in InstanceStatus)
_ACTION_CHOICES: Final = ", ".join(a.value for a in ActionType)


def resolve_now(now_ms: int | None) -> int:
    """``now_ms``, or the system clock's now: one value per payload, so all instances agree."""
    return system_clock.now_ms() if now_ms is None else now_ms


# -- scalars ------------------------------------------------------------------------------------


def brief_repr(value: object) -> str:
    """A short repr for error reasons: they go back to the client, so never echo a whole body."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: object) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return brief_repr(value)


def _scalar(value: object, path: str) -> object:
    """The one value in ``value``; XML elements with attributes come as ``{"@a": .., "$": ..}``."""
    if isinstance(value, Mapping):
        if all(key[:1] in ("@", "$") for key in value):
            return value.get("$")
        raise DecodeError(f"{path} must be a single value, not an object")
    if isinstance(value, list):
        raise DecodeError(f"{path} must be a single value, not a list")
    return value


def read_text(value: object, path: str) -> str | None:
    """A string as sent (``""`` kept); ``None`` only when absent. Numbers and booleans coerced."""
    value = _scalar(value, path)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    raise DecodeError(f"{path} must be a string, got {_kind(value)}")


def read_optional_str(value: object, path: str) -> str | None:
    """An optional string field: empty means absent (clients send ``""`` for unset URLs)."""
    return read_text(value, path) or None


def _read_required_str(value: object, path: str) -> str | None:
    """A required string field; blank counts as missing, as Eureka's ``isBlank`` check does."""
    text = read_text(value, path)
    return text if text and text.strip() else None


def read_int(value: object, path: str, low: int = INT64_MIN, high: int = INT64_MAX) -> int | None:
    """An integer in ``[low, high]`` from a number or a decimal string; ``None`` when absent."""
    value = _scalar(value, path)
    number: int
    if value is None:
        return None
    if isinstance(value, bool):  # bool is an int subclass; true is not a port
        raise DecodeError(f"{path} must be an integer, got {brief_repr(value)}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and not value.strip():
        return None
    elif isinstance(value, str) and _INT_TEXT.fullmatch(value):
        number = int(value)
    else:
        raise DecodeError(f"{path} must be an integer, got {_kind(value)}")
    if not low <= number <= high:
        raise DecodeError(f"{path} must be between {low} and {high}, got {number}")
    return number


def read_bool(value: object, path: str) -> bool | None:
    """A boolean from a JSON boolean, ``"true"``/``"false"`` (any case) or 0/1."""
    value = _scalar(value, path)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("true", "1"):
            return True
        if word in ("false", "0"):
            return False
        if not word:
            return None
    raise DecodeError(f"{path} must be true or false, got {_kind(value)}")


def read_status(value: object, path: str) -> InstanceStatus | None:
    text = read_text(value, path)
    if text is None or not text.strip():
        return None
    try:
        return InstanceStatus.parse(text)
    except ValueError:
        raise DecodeError(
            f"{path} has unknown value {brief_repr(text)} (expected one of {_STATUS_CHOICES})"
        ) from None


def read_action_type(value: object, path: str) -> ActionType | None:
    text = read_text(value, path)
    if text is None or not text.strip():
        return None
    try:
        return ActionType[text.strip().upper()]
    except KeyError:
        raise DecodeError(
            f"{path} has unknown value {brief_repr(text)} (expected one of {_ACTION_CHOICES})"
        ) from None


def _or(value: _T | None, default: _T) -> _T:
    """``default`` only when ``value`` is absent (``x or default`` would also replace 0)."""
    return default if value is None else value


# -- structures -----------------------------------------------------------------------------------


def read_object(value: object, path: str) -> Tree | None:
    """An object, or ``None`` when absent (an empty XML element counts as absent)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and not value.strip():
        return None
    raise DecodeError(f"{path} must be an object, got {_kind(value)}")


def _require_object(value: object, path: str) -> Tree:
    node = read_object(value, path)
    if node is None:
        raise DecodeError(f"{path} is missing")
    return node


def _read_list(value: object, path: str) -> list[object]:
    """A list of items; one object stands for a list of one (older servers write that)."""
    if isinstance(value, list):
        return [item for item in value if item is not None]
    if isinstance(value, Mapping):
        return [value]
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    raise DecodeError(f"{path} must be a list of objects, got {_kind(value)}")


def _first(node: Tree, *keys: str) -> object:
    """The first of ``keys`` that holds a value: for fields clients spell more than one way."""
    for key in keys:
        value = node.get(key)
        if value is not None:
            return value
    return None


def read_port(value: object, path: str, default: PortInfo) -> PortInfo:
    """``{"$": 8080, "@enabled": "true"}`` or a bare number; a missing part keeps ``default``'s."""
    if isinstance(value, Mapping):
        number = read_int(value.get("$"), f"{path}.$", 0, 65535)
        enabled = read_bool(_first(value, "@enabled", "enabled"), f"{path}.@enabled")
    else:
        number = read_int(value, path, 0, 65535)
        enabled = None
    return PortInfo(_or(number, default.port), _or(enabled, default.enabled))


def read_metadata(value: object, path: str) -> Mapping[str, str]:
    """A string map; ``@``-keys (``@class``) and XML element text (``$``) are not entries."""
    node = read_object(value, path)
    if not node:
        return EMPTY_METADATA
    entries: dict[str, str] = {}
    for key, raw in node.items():
        if key.startswith("@") or key == "$":
            continue
        text = read_text(raw, f"{path}[{brief_repr(key)}]")
        if text is not None:
            entries[key] = text
    return frozen_metadata(entries)


_LEASE_FIELDS: Final = (
    ("renewalIntervalInSecs", "renewal_interval_secs", INT32_MIN, INT32_MAX),
    ("durationInSecs", "duration_secs", INT32_MIN, INT32_MAX),
    ("registrationTimestamp", "registration_timestamp", INT64_MIN, INT64_MAX),
    ("lastRenewalTimestamp", "last_renewal_timestamp", INT64_MIN, INT64_MAX),
    ("evictionTimestamp", "eviction_timestamp", INT64_MIN, INT64_MAX),
    ("serviceUpTimestamp", "service_up_timestamp", INT64_MIN, INT64_MAX),
)


def read_lease_info(value: object, path: str) -> LeaseInfo:
    node = read_object(value, path)
    if node is None:
        return LeaseInfo()
    given: dict[str, int] = {}
    for key, attr, low, high in _LEASE_FIELDS:
        number = read_int(node.get(key), f"{path}.{key}", low, high)
        if number is not None:
            given[attr] = number
    return LeaseInfo(**given)


def read_data_center(value: object, path: str, *, registration: bool) -> DataCenterInfo:
    """The data center; a known name in its canonical case, an unknown one as sent.

    A missing name is taken from ``@class`` so that registry reads stay lenient; in a
    registration it stays empty, for the register rules to refuse as Eureka refuses it.
    """
    node = read_object(value, path)
    if node is None:
        return DataCenterInfo("" if registration else "MyOwn")
    name = read_optional_str(node.get("name"), f"{path}.name")
    if name is None or not name.strip():
        if registration:
            name = ""
        else:
            is_amazon = read_text(node.get("@class"), f"{path}.@class") == AMAZON_DATA_CENTER_CLASS
            name = "Amazon" if is_amazon else "MyOwn"
    name = DATA_CENTER_NAMES.get(name.strip().lower(), name)
    return DataCenterInfo(name, read_metadata(node.get("metadata"), f"{path}.metadata"))


# -- instances ------------------------------------------------------------------------------------


def _fallback_instance_id(data_center: DataCenterInfo, host_name: str | None) -> str | None:
    """Eureka's ``InstanceInfo.getId()``: the EC2 instance id on Amazon, else the host name."""
    if data_center.name == "Amazon":
        ec2_id = data_center.metadata.get("instance-id")
        if ec2_id and ec2_id.strip():
            return ec2_id
    return host_name


def read_instance(
    value: object,
    path: str,
    *,
    now_ms: int,
    registration: bool,
    default_app: str | None = None,
) -> InstanceInfo:
    """One instance object. ``default_app`` is the enclosing application's name, if any.

    ``registration``: read as a registration, for the register rules to judge (see above).
    """
    if not registration and type(value) is dict:
        quick = _read_plain_instance(value, now_ms, default_app)
        if quick is not None:
            return quick
    node = _require_object(value, path)

    def opt(key: str) -> str | None:
        return read_optional_str(node.get(key), f"{path}.{key}")

    host_name = _read_required_str(node.get("hostName"), f"{path}.hostName")
    ip_addr = _read_required_str(node.get("ipAddr"), f"{path}.ipAddr")
    app = _read_required_str(node.get("app"), f"{path}.app")
    app = app.upper() if app else default_app
    data_center = read_data_center(
        node.get("dataCenterInfo"), f"{path}.dataCenterInfo", registration=registration
    )
    instance_id = _read_required_str(node.get("instanceId"), f"{path}.instanceId")
    instance_id = instance_id or _fallback_instance_id(data_center, host_name)
    overridden = _first(node, "overriddenStatus", "overriddenstatus")
    return InstanceInfo(
        instance_id=instance_id or "",
        app=app or "",
        host_name=host_name or "",
        ip_addr=ip_addr or "",
        status=_or(read_status(node.get("status"), f"{path}.status"), InstanceStatus.UP),
        overridden_status=_or(
            read_status(overridden, f"{path}.overriddenStatus"), InstanceStatus.UNKNOWN
        ),
        port=read_port(node.get("port"), f"{path}.port", _DEFAULT_PORT),
        secure_port=read_port(node.get("securePort"), f"{path}.securePort", _DEFAULT_SECURE_PORT),
        country_id=_or(
            read_int(node.get("countryId"), f"{path}.countryId", INT32_MIN, INT32_MAX), 1
        ),
        data_center_info=data_center,
        lease_info=read_lease_info(node.get("leaseInfo"), f"{path}.leaseInfo"),
        metadata=read_metadata(node.get("metadata"), f"{path}.metadata"),
        sid=opt("sid"),
        app_group_name=opt("appGroupName"),
        home_page_url=opt("homePageUrl"),
        status_page_url=opt("statusPageUrl"),
        health_check_url=opt("healthCheckUrl"),
        secure_health_check_url=opt("secureHealthCheckUrl"),
        vip_address=opt("vipAddress"),
        secure_vip_address=opt("secureVipAddress"),
        is_coordinating_discovery_server=_or(
            read_bool(
                node.get("isCoordinatingDiscoveryServer"), f"{path}.isCoordinatingDiscoveryServer"
            ),
            False,
        ),
        last_updated_timestamp=_or(
            read_int(node.get("lastUpdatedTimestamp"), f"{path}.lastUpdatedTimestamp"), 0
        ),
        last_dirty_timestamp=_or(
            read_int(node.get("lastDirtyTimestamp"), f"{path}.lastDirtyTimestamp"), now_ms
        ),
        action_type=read_action_type(node.get("actionType"), f"{path}.actionType"),
        asg_name=opt("asgName"),
    )


# -- the plain shape, read quickly ----------------------------------------------------------------
#
# What servers send is nearly always the same plain shape: strings as strings, numbers as ints
# (or decimal strings), ports as ``{"$": 8080, "@enabled": "true"}``, statuses spelled in capitals.
# The general reader above pays for its leniency on every field (ABC isinstance checks, a path
# string per field), which made a 100k-instance registry cost five times its ``orjson.loads``.
# ``_read_plain_instance`` reads only that plain shape, with exact type checks, and answers
# ``None`` for anything else; the caller then reads the instance the general way, which also
# gives the errors their reasons. So the two always agree: tests/codec/test_plain_reader.py
# checks it on arbitrary trees.

_EXACT_STATUS: Final[Mapping[str, InstanceStatus]] = {s.value: s for s in InstanceStatus}
_EXACT_ACTION: Final[Mapping[str, ActionType]] = {a.value: a for a in ActionType}
_EXACT_BOOL: Final[Mapping[str, bool]] = {"true": True, "false": False}
_NOT_PLAIN: Final = object()
# Most instances share one data center without metadata: one immutable object serves them all.
_PLAIN_DATA_CENTERS: Final[Mapping[str, DataCenterInfo]] = {
    name: DataCenterInfo(name) for name in DATA_CENTER_NAMES.values()
}


def _exact(table: Mapping[str, _T], value: object) -> _T | None:
    """``table[value]`` for a string spelled exactly as a key; ``None`` for anything else."""
    return table.get(value) if type(value) is str else None


def _plain_int(value: object, low: int = INT64_MIN, high: int = INT64_MAX) -> object:
    """An int, or a signed decimal string of at most 19 digits, within bounds; ``None`` when
    absent. (``0 < len`` rules out ``"-"`` and ``""``; ``isdigit`` on ASCII is exactly 0-9.)"""
    if value is None:
        return None
    if type(value) is int:
        number = value
    elif type(value) is str and value.isascii():
        # Unsigned first: how timestamps are written, without slicing off a sign.
        digits = value if value.isdigit() else value[1:] if value[:1] in ("-", "+") else ""
        if not (0 < len(digits) <= 19 and digits.isdigit()):
            return _NOT_PLAIN
        number = int(value)
    else:
        return _NOT_PLAIN
    return number if low <= number <= high else _NOT_PLAIN


def _plain_port(value: object, default: PortInfo) -> PortInfo | None:
    if value is None:
        return default
    if type(value) is not dict:
        return None
    number = value.get("$")
    if type(number) is not int or not 0 <= number <= 65535:  # else as written: no call
        number = _plain_int(number, 0, 65535)
    enabled = _exact(_EXACT_BOOL, value.get("@enabled"))
    if number is _NOT_PLAIN or number is None or enabled is None:
        return None
    return shared_port(number, enabled)  # type: ignore[arg-type]


def _plain_metadata(value: object) -> Mapping[str, str] | None:
    if type(value) is not dict:  # an empty XML element is an absent one
        return EMPTY_METADATA if value is None or value == "" else None
    items = tuple(value.items())
    attributes = False
    for key, text in items:
        if type(text) is not str or type(key) is not str:
            return None
        if key[:1] == "@" or key == "$":
            attributes = True
    if attributes:  # the "@class" of an empty map, mostly: not entries
        items = tuple(item for item in items if item[0][:1] != "@" and item[0] != "$")
    # The model's own sharing of equal maps between instances; the pairs are checked above.
    return shared_metadata(items) if items else EMPTY_METADATA


def _plain_data_center(value: object) -> DataCenterInfo | None:
    if type(value) is not dict:
        return None
    name = value.get("name")
    if type(name) is not str or not name.strip():
        return None
    name = DATA_CENTER_NAMES.get(name.strip().lower(), name)
    metadata = value.get("metadata")
    if metadata is None:
        shared = _PLAIN_DATA_CENTERS.get(name)
        if shared is not None:
            return shared
    entries = _plain_metadata(metadata)
    return None if entries is None else DataCenterInfo(name, entries)


def _plain_lease(value: object) -> LeaseInfo | None:
    if type(value) is not dict:
        return _LEASE_DEFAULTS if value is None or value == "" else None
    get = value.get
    renewal = get("renewalIntervalInSecs")
    duration = get("durationInSecs")
    registered = get("registrationTimestamp")
    renewed = get("lastRenewalTimestamp")
    evicted = get("evictionTimestamp")
    up = get("serviceUpTimestamp")
    if (  # as written: six ints in range, checked flat (the loop below costs twice as much)
        type(renewal) is int
        and type(duration) is int
        and type(registered) is int
        and type(renewed) is int
        and type(evicted) is int
        and type(up) is int
        and INT32_MIN <= renewal <= INT32_MAX
        and INT32_MIN <= duration <= INT32_MAX
        and INT64_MIN <= registered <= INT64_MAX
        and INT64_MIN <= renewed <= INT64_MAX
        and INT64_MIN <= evicted <= INT64_MAX
        and INT64_MIN <= up <= INT64_MAX
    ):
        return _assemble_lease(renewal, duration, registered, renewed, evicted, up)
    numbers: list[int] = []
    for key, default, low, high in _PLAIN_LEASE_FIELDS:
        number = value.get(key)
        if number is None:
            numbers.append(default)
        elif type(number) is int and low <= number <= high:
            numbers.append(number)
        else:
            number = _plain_int(number, low, high)
            if number is _NOT_PLAIN:
                return None
            numbers.append(number)  # type: ignore[arg-type]
    return _assemble_lease(*numbers)


_LEASE_DEFAULTS: Final = LeaseInfo()
_PLAIN_LEASE_FIELDS: Final = tuple(
    (key, getattr(_LEASE_DEFAULTS, attr), low, high) for key, attr, low, high in _LEASE_FIELDS
)
# The optional strings, in InstanceInfo's field order (sid .. secure_vip_address).
_OPTIONAL_KEYS: Final = (
    "sid",
    "appGroupName",
    "homePageUrl",
    "statusPageUrl",
    "healthCheckUrl",
    "secureHealthCheckUrl",
    "vipAddress",
    "secureVipAddress",
)


def _plain_required(value: object) -> str | None:
    """A required string: ``""`` when absent or blank, ``None`` when not plain."""
    if value is None:
        return ""
    if type(value) is not str:
        return None
    return value if value.strip() else ""


def _read_plain_instance(
    node: dict[str, Any], now_ms: int, default_app: str | None
) -> InstanceInfo | None:
    """``node`` read exactly as :func:`read_instance` reads it, or ``None`` if not plain."""
    get = node.get
    host_name = _plain_required(get("hostName"))
    ip_addr = _plain_required(get("ipAddr"))
    app = _plain_required(get("app"))
    instance_id = _plain_required(get("instanceId"))
    if host_name is None or ip_addr is None or app is None or instance_id is None:
        return None
    app = shared_text(app.upper()) if app else (default_app or "")
    data_center = _plain_data_center(get("dataCenterInfo"))
    if data_center is None:
        return None
    if not instance_id:
        instance_id = _fallback_instance_id(data_center, host_name) or ""
    status = get("status")
    status = InstanceStatus.UP if status is None else _exact(_EXACT_STATUS, status)
    overridden = get("overriddenStatus")
    if overridden is None:
        overridden = get("overriddenstatus")
    overridden = InstanceStatus.UNKNOWN if overridden is None else _exact(_EXACT_STATUS, overridden)
    action = get("actionType")
    if action is not None:
        action = _exact(_EXACT_ACTION, action)
        if action is None:
            return None
    coordinating = get("isCoordinatingDiscoveryServer")
    if type(coordinating) is not bool:
        coordinating = False if coordinating is None else _exact(_EXACT_BOOL, coordinating)
    port = _plain_port(get("port"), _DEFAULT_PORT)
    secure_port = _plain_port(get("securePort"), _DEFAULT_SECURE_PORT)
    lease = _plain_lease(get("leaseInfo"))
    metadata = _plain_metadata(get("metadata"))
    country = get("countryId")
    if type(country) is not int or not INT32_MIN <= country <= INT32_MAX:
        country = _plain_int(country, INT32_MIN, INT32_MAX)
    updated = get("lastUpdatedTimestamp")
    if type(updated) is not int or not INT64_MIN <= updated <= INT64_MAX:
        updated = _plain_int(updated)
    dirty = get("lastDirtyTimestamp")
    if type(dirty) is not int or not INT64_MIN <= dirty <= INT64_MAX:
        dirty = _plain_int(dirty)
    if (
        status is None
        or overridden is None
        or coordinating is None
        or port is None
        or secure_port is None
        or lease is None
        or metadata is None
        or country is _NOT_PLAIN
        or updated is _NOT_PLAIN
        or dirty is _NOT_PLAIN
    ):
        return None
    optional: list[str | None] = []
    for key in _OPTIONAL_KEYS:
        text = get(key)
        if text is not None and type(text) is not str:
            return None
        optional.append(text or None)
    for at in (-2, -1):  # vipAddress, secureVipAddress: shared by an app's instances
        vip = optional[at]
        if vip is not None:
            optional[at] = shared_text(vip)
    asg_name = get("asgName")
    if asg_name is not None and type(asg_name) is not str:
        return None
    return _assemble_instance(
        (
            instance_id,
            app,
            host_name,
            ip_addr,
            status,
            overridden,
            port,
            secure_port,
            1 if country is None else country,
            data_center,
            lease,
            metadata,
            *optional,
            coordinating,
            0 if updated is None else updated,
            now_ms if dirty is None else dirty,
            action,
            asg_name or None,
        )
    )


# The frozen dataclass's __init__ sets each of the 25 fields through object.__setattr__ by name
# and then re-freezes the metadata; the slots' own setters, with the values already checked and
# frozen above, build the same object in about half the time. The setter calls are written out
# (code generated once, as dataclasses does for __init__): a loop over them costs a third more.
def _slot_assembler(cls: type[_T], *, relet: bool = False) -> Callable[..., _T]:
    """The assembler of ``cls`` (InstanceInfo, or LeaseInfo: the same saving on its six fields);
    with ``relet``, ``(old, lease_info)``: a copy of instance ``old`` with that lease
    (``evolve`` checks its arguments and runs ``__post_init__`` again, at twice the cost)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    setters = {f"_set_{n}": getattr(cls, n).__set__ for n in names}
    if relet:
        lines = ["def assemble(old, lease_info):", "    new = _new(_cls)"]
        lines += [
            f"    _set_{n}(new, {'lease_info' if n == 'lease_info' else f'old.{n}'})" for n in names
        ]
    else:
        lines = [f"def assemble({', '.join(names)}):", "    new = _new(_cls)"]
        lines += [f"    _set_{n}(new, {n})" for n in names]
    lines.append("    return new")
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, **setters}
    exec("\n".join(lines), namespace)  # only the model's field names go in
    assemble: Callable[..., _T] = namespace["assemble"]
    return assemble


_assemble: Final = _slot_assembler(InstanceInfo)
_relet: Final = _slot_assembler(InstanceInfo, relet=True)
_assemble_lease: Final = _slot_assembler(LeaseInfo)


def _assemble_instance(values: tuple[Any, ...]) -> InstanceInfo:
    """An InstanceInfo from its field values in order, equal to ``InstanceInfo(*values)``."""
    return _assemble(*values)


# -- applications ---------------------------------------------------------------------------------


class DecodedInstances:
    """The instances of the last full registry read, to reuse those sent again unchanged.

    A client fetches the whole registry again and again, and between two fetches most instances
    do not change but for their lease: every heartbeat moves its lastRenewalTimestamp. Each
    instance object of a payload is fingerprinted, its leaseInfo left out, by a 128-bit BLAKE2b
    of its ``orjson.dumps``, which tells ``1``, ``1.0`` and ``true`` apart (plain ``==`` on the
    decoded trees would not). The same fingerprint under the same application name is the same
    object but for the lease, so it reads to the same instance but for the lease: the lease is
    read (the quick reader's exact checks; anything else reads the whole object again) and the
    last instance is returned when its lease is equal, a copy of it with the new lease if not.
    Objects without a lastDirtyTimestamp are always read again, since "now" stands in for it.
    Only the instances of the last registry read are kept (16 bytes and a reference each).
    """

    def __init__(self) -> None:
        self._known: dict[tuple[str | None, bytes], InstanceInfo] = {}
        self.reused = 0
        """How many instances the last read took from the one before (for tests and benches)."""
        self.relet = 0
        """How many of those it took with a new lease (``reused`` does not count them)."""

    def __len__(self) -> int:
        return len(self._known)


def _fingerprint(node: object) -> bytes | None:
    if type(node) is not dict or node.get("lastDirtyTimestamp") is None:
        return None
    rest = node.copy()
    rest.pop("leaseInfo", None)
    try:
        return blake2b(orjson.dumps(rest), digest_size=16).digest()
    except orjson.JSONEncodeError:  # what orjson cannot write is simply read again
        return None


class _Reuse:
    """One registry read's side of :class:`DecodedInstances`: what it found, what it read."""

    __slots__ = ("known", "relet", "reused", "seen")

    def __init__(self, memo: DecodedInstances) -> None:
        self.known = memo._known
        self.seen: dict[tuple[str | None, bytes], InstanceInfo] = {}
        self.reused = 0
        self.relet = 0

    def take(self, key: tuple[str | None, bytes], node: dict[str, Any]) -> InstanceInfo | None:
        """The last read's instance for ``key``, with ``node``'s lease; ``None`` to read it."""
        known = self.known.get(key)
        if known is None:
            return None
        lease = _plain_lease(node.get("leaseInfo"))
        if lease is None:
            return None
        if lease == known.lease_info:
            self.reused += 1
            return known
        self.relet += 1
        return _relet(known, lease)


def read_application(
    value: object, path: str, *, now_ms: int, reuse: _Reuse | None = None
) -> Application:
    """``{"name": "APP", "instance": [...]}``; instances without an app inherit the name."""
    node = _require_object(value, path)
    name = _read_required_str(node.get("name"), f"{path}.name")
    name = shared_text(name.upper()) if name else None
    items = _read_list(node.get("instance"), f"{path}.instance")
    if reuse is None:
        instances = tuple(
            read_instance(
                item,
                f"{path}.instance[{i}]",
                now_ms=now_ms,
                registration=False,
                default_app=name,
            )
            for i, item in enumerate(items)
        )
    else:
        instances = tuple(_read_reusing(items, path, now_ms, name, reuse))
    if name is None:
        if not instances or not instances[0].app:
            raise DecodeError(f"{path}.name is missing")
        name = instances[0].app
    return Application(name, instances)


def _read_reusing(
    items: list[object], path: str, now_ms: int, name: str | None, reuse: _Reuse
) -> list[InstanceInfo]:
    found: list[InstanceInfo] = []
    for i, item in enumerate(items):
        digest = _fingerprint(item)
        key = (name, digest) if digest is not None else None
        instance = reuse.take(key, item) if key is not None else None  # type: ignore[arg-type]
        if instance is None:
            instance = read_instance(
                item, f"{path}.instance[{i}]", now_ms=now_ms, registration=False, default_app=name
            )
        if key is not None:
            reuse.seen[key] = instance
        found.append(instance)
    return found


def read_applications(
    value: object, path: str, *, now_ms: int, reuse: DecodedInstances | None = None
) -> Applications:
    """``{"versions__delta": "1", "apps__hashcode": "UP_1_", "application": [...]}``.

    ``reuse``: the instances of the last registry read with it, taken again where unchanged;
    it then holds this read's (only once the whole payload has been read).
    """
    node = _require_object(value, path)
    items = _read_list(node.get("application"), f"{path}.application")
    this_read = _Reuse(reuse) if reuse is not None else None
    apps = tuple(
        read_application(item, f"{path}.application[{i}]", now_ms=now_ms, reuse=this_read)
        for i, item in enumerate(items)
    )
    version = read_optional_str(node.get("versions__delta"), f"{path}.versions__delta")
    hashcode = read_text(node.get("apps__hashcode"), f"{path}.apps__hashcode")
    read = Applications(apps, _or(version, _DEFAULT_VERSION), _or(hashcode, ""))
    if reuse is not None and this_read is not None:
        reuse._known = this_read.seen
        reuse.reused = this_read.reused
        reuse.relet = this_read.relet
    return read
