"""Writers: model objects -> payload trees, the one shape both codecs serialize.

The trees use the conventions the readers accept (``"@name"`` for an XML attribute, ``"$"`` for
the text beside it), so field names, order and the compact rules live here once: the JSON codec
hands a tree to ``orjson.dumps``, the XML codec walks it. The formats differ in two details
only: the override field is ``overriddenStatus`` in JSON and ``overriddenstatus`` in XML, as
Eureka writes them; and in XML, metadata entries whose key is not a safe element name are left
out (the readers refuse such keys at registration, so only an instance built in-process can
carry one, and one bad key must not break the document every client reads).

Trees are built for an encoder and only read by it: subtrees are shared between instances,
metadata maps are the model's own read-only mappings, and registry trees hold their instances
as model objects. :func:`instance_dict` is the plain, mutable form for callers.

Compact form (``X-Eureka-Accept: compact``) drops appGroupName, overriddenStatus, sid, countryId,
the URLs, isCoordinatingDiscoveryServer, lastDirtyTimestamp, leaseInfo and metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from eureka_embed.codec.readers import XML_NAME
from eureka_embed.model import (
    Application,
    Applications,
    DataCenterInfo,
    InstanceInfo,
    InstanceStatus,
    LeaseInfo,
    PortInfo,
)

__all__ = [
    "EMPTY_MAP_CLASS",
    "application_tree",
    "applications_tree",
    "instance_dict",
    "instance_tree",
    "plain",
]

EMPTY_MAP_CLASS: Final = "java.util.Collections$EmptyMap"

# How Java's Eureka writes an empty metadata map. Shared by every tree: never mutated.
_EMPTY_METADATA_TREE: Final[Mapping[str, str]] = {"@class": EMPTY_MAP_CLASS}


_BOOL_TEXT: Final = {True: "true", False: "false"}
# Enum ``.value`` is a descriptor call; a dict lookup is several times cheaper on the hot path.
_STATUS_TEXT: Final = {status: status.value for status in InstanceStatus}


# Trees are rebuilt for every registry read, and allocating is most of their cost (much of it
# in the garbage collector), so the few distinct port and plain data-center subtrees are shared
# between instances. Threads may race to fill an entry; the loser only builds it twice.
_PORT_TREES: dict[tuple[int, bool], Mapping[str, Any]] = {}
_PLAIN_DATA_CENTER_TREES: dict[str, Mapping[str, Any]] = {}
# Registrations only carry the three names Java knows, but unvalidated reads carry anything.
_MAX_SHARED_DATA_CENTERS: Final = 16


def _port_tree(port: PortInfo) -> Mapping[str, Any]:
    key = (port.port, port.enabled)
    tree = _PORT_TREES.get(key)
    if tree is None:  # at most 131,072 keys, and in practice a handful
        tree = _PORT_TREES[key] = {"$": port.port, "@enabled": _BOOL_TEXT[port.enabled]}
    return tree


def _map_tree(entries: Mapping[str, str], for_xml: bool) -> Mapping[str, str]:
    if for_xml:
        return {key: value for key, value in entries.items() if XML_NAME.fullmatch(key)}
    return entries


def _data_center_tree(data_center: DataCenterInfo, for_xml: bool) -> Mapping[str, Any]:
    name = data_center.name
    # Only AmazonInfo has a metadata property on the Java side; other classes would not read it.
    if name == "Amazon":
        return {
            "@class": data_center.class_name,
            "name": name,
            "metadata": _map_tree(data_center.metadata, for_xml),
        }
    tree = _PLAIN_DATA_CENTER_TREES.get(name)
    if tree is None:
        tree = {"@class": data_center.class_name, "name": name}
        if len(_PLAIN_DATA_CENTER_TREES) < _MAX_SHARED_DATA_CENTERS:
            _PLAIN_DATA_CENTER_TREES[name] = tree
    return tree


def _lease_tree(lease: LeaseInfo) -> dict[str, Any]:
    return {
        "renewalIntervalInSecs": lease.renewal_interval_secs,
        "durationInSecs": lease.duration_secs,
        "registrationTimestamp": lease.registration_timestamp,
        "lastRenewalTimestamp": lease.last_renewal_timestamp,
        "evictionTimestamp": lease.eviction_timestamp,
        "serviceUpTimestamp": lease.service_up_timestamp,
    }


def instance_tree(
    instance: InstanceInfo, *, compact: bool = False, for_xml: bool = False
) -> dict[str, Any]:
    """The unwrapped instance object, fields in Eureka's order, null fields left out.

    This runs once per instance for every registry read, so it is written flat: one
    ``if ... is not None`` per optional field costs far less than a helper call per field.
    """
    i = instance
    tree: dict[str, Any] = {
        "instanceId": i.instance_id,
        "hostName": i.host_name,
        "app": i.app,
        "ipAddr": i.ip_addr,
    }
    if not compact and i.sid is not None:
        tree["sid"] = i.sid
    tree["status"] = _STATUS_TEXT[i.status]
    if not compact:
        tree["overriddenstatus" if for_xml else "overriddenStatus"] = _STATUS_TEXT[
            i.overridden_status
        ]
    tree["port"] = _port_tree(i.port)
    tree["securePort"] = _port_tree(i.secure_port)
    if not compact:
        tree["countryId"] = i.country_id
    tree["dataCenterInfo"] = _data_center_tree(i.data_center_info, for_xml)
    if not compact:
        tree["leaseInfo"] = _lease_tree(i.lease_info)
        tree["metadata"] = _map_tree(i.metadata, for_xml) or _EMPTY_METADATA_TREE
        if i.app_group_name is not None:
            tree["appGroupName"] = i.app_group_name
        if i.home_page_url is not None:
            tree["homePageUrl"] = i.home_page_url
        if i.status_page_url is not None:
            tree["statusPageUrl"] = i.status_page_url
        if i.health_check_url is not None:
            tree["healthCheckUrl"] = i.health_check_url
        if i.secure_health_check_url is not None:
            tree["secureHealthCheckUrl"] = i.secure_health_check_url
    if i.vip_address is not None:
        tree["vipAddress"] = i.vip_address
    if i.secure_vip_address is not None:
        tree["secureVipAddress"] = i.secure_vip_address
    if not compact:
        tree["isCoordinatingDiscoveryServer"] = _BOOL_TEXT[i.is_coordinating_discovery_server]
    tree["lastUpdatedTimestamp"] = str(i.last_updated_timestamp)
    if not compact:
        tree["lastDirtyTimestamp"] = str(i.last_dirty_timestamp)
    if i.action_type is not None:
        tree["actionType"] = i.action_type.value
    if i.asg_name is not None:
        tree["asgName"] = i.asg_name
    return tree


def application_tree(application: Application) -> dict[str, Any]:
    """``{"name": ..., "instance": [...]}``: a list even for one instance (Spring needs it).

    The instances stay model objects: each encoder turns one into its :func:`instance_tree`
    only while writing it (for orjson, in its ``default`` hook), so a registry's worth of trees
    never piles up in memory for the garbage collector to walk.
    """
    return {"name": application.name, "instance": list(application.instances)}


def applications_tree(applications: Applications) -> dict[str, Any]:
    """The registry, its instances left as model objects (see :func:`application_tree`)."""
    return {
        "versions__delta": applications.version,
        "apps__hashcode": applications.apps_hashcode,
        "application": [application_tree(app) for app in applications.applications],
    }


def instance_dict(instance: InstanceInfo, *, compact: bool = False) -> dict[str, Any]:
    """:func:`instance_tree` (JSON spelling) as plain dicts, none shared: the caller's to change."""
    copy: dict[str, Any] = plain(instance_tree(instance, compact=compact))
    return copy


def plain(value: Any) -> Any:
    """``value`` with every mapping, at any depth, copied into a new dict."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
