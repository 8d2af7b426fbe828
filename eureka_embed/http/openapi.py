"""The OpenAPI 3.1 document of the HTTP API, built from the routes an app really mounts.

Every route of an :class:`~eureka_embed.http.api.EurekaApi` (the Eureka API under each base
path, the dashboard, ``/metrics``) and the document itself (``{base}/openapi.json`` under each
base path) is described by :data:`_OPERATIONS`, keyed by its template below the base path. A
route with no entry there is an error when the document is built, so a new endpoint cannot be
served undocumented; ``tests/reliability/test_openapi.py`` drives every status code listed here
against a running app, so none is listed that cannot happen.

Bodies: Eureka answers XML unless ``Accept`` mentions json (SPEC section 1), so each payload is
documented in both media types; JSON schemas are exact enough for a fuzzer to validate answers
against, XML ones name the root element. Refusals are ``text/plain`` reasons.

Auth: an app without ``auth`` is open, and its document says nothing of credentials (an empty
``securitySchemes``). With ``auth`` (:attr:`EurekaApi.guard <eureka_embed.http.api.EurekaApi>`),
every guarded operation also lists 401 (with ``WWW-Authenticate``) and 403, and with a
:class:`~eureka_embed.auth.BasicAuth` 429 (with ``Retry-After``), the :data:`BASIC_SCHEME` and
each operation's ``security``: the scheme, or ``{}`` beside it where the credentials file's
anonymous roles let a request without credentials through. The document itself is served
unguarded: it describes the API, not the registry, and a client needs it to learn the scheme.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import eureka_embed
from eureka_embed.auth.basic import BasicAuth
from eureka_embed.auth.guard import CHALLENGE_HEADERS, AccessGuard, access_of
from eureka_embed.auth.roles import Access, refusal_reason
from eureka_embed.http.api import EurekaApi
from eureka_embed.http.dashboard_data import ACTION_HEADER, ACTIONS, ACTIONS_PATH, DATA_PATH
from eureka_embed.http.endpoints import Route
from eureka_embed.http.messages import EndpointRequest, EndpointResponse
from eureka_embed.http.watches import DEFAULT_WAIT_S, MAX_WAIT_S
from eureka_embed.protocol import INDEX_HEADER, REPLICATION_HEADER

__all__ = [
    "BASIC_SCHEME",
    "OPENAPI_TEMPLATE",
    "OpenApiEndpoint",
    "openapi_document",
    "openapi_routes",
]

#: Where the document is served below each base path (``/eureka/openapi.json``).
OPENAPI_TEMPLATE: Final = "openapi.json"

#: ``components.securitySchemes`` of an app checking HTTP Basic credentials (SPEC section 9).
BASIC_SCHEME: Final[Mapping[str, Any]] = {
    "basic": {
        "type": "http",
        "scheme": "basic",
        "description": "a user of the credentials file; roles read, register, admin, peer",
    }
}

JsonObject = dict[str, Any]

_JSON: Final = "application/json"
_XML: Final = "application/xml"
_TEXT: Final = "text/plain"

# -- schemas (JSON Schema 2020-12, as OpenAPI 3.1 takes it)

_STATUS: Final = {"type": "string", "enum": ["UP", "DOWN", "STARTING", "OUT_OF_SERVICE", "UNKNOWN"]}
_PORT: Final = {
    "type": "object",
    "properties": {"$": {"type": "integer"}, "@enabled": {"type": "string"}},
    "required": ["$", "@enabled"],
}
_LEASE: Final = {
    "type": "object",
    "properties": {
        name: {"type": "integer"}
        for name in (
            "renewalIntervalInSecs",
            "durationInSecs",
            "registrationTimestamp",
            "lastRenewalTimestamp",
            "evictionTimestamp",
            "serviceUpTimestamp",
        )
    },
}
_DATA_CENTER: Final = {
    "type": "object",
    "properties": {"@class": {"type": "string"}, "name": {"type": "string"}},
    "required": ["name"],
}
#: An instance as this server writes it (the compact form, ``X-Eureka-Accept: compact``,
#: leaves out the optional parts).
_INSTANCE_OUT: Final = {
    "type": "object",
    "properties": {
        "instanceId": {"type": "string"},
        "hostName": {"type": "string"},
        "app": {"type": "string"},
        "ipAddr": {"type": "string"},
        "status": _STATUS,
        "overriddenStatus": _STATUS,
        "port": _PORT,
        "securePort": _PORT,
        "dataCenterInfo": _DATA_CENTER,
        "leaseInfo": _LEASE,
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "actionType": {"type": "string", "enum": ["ADDED", "MODIFIED", "DELETED"]},
    },
    "required": ["instanceId", "hostName", "app", "ipAddr", "status", "port", "dataCenterInfo"],
}
#: An instance as a client registers it: what the register rules require (SPEC section 2).
#: The readers are lenient beyond this (strings for numbers, missing instanceId, ...).
_INSTANCE_IN: Final = {
    "type": "object",
    "properties": {
        "instanceId": {"type": "string", "minLength": 1},
        "hostName": {"type": "string", "minLength": 1},
        "app": {"type": "string", "minLength": 1},
        "ipAddr": {"type": "string", "minLength": 1},
        "status": _STATUS,
        "port": _PORT,
        "vipAddress": {"type": "string"},
        "dataCenterInfo": _DATA_CENTER,
        "leaseInfo": {
            "type": "object",
            "properties": {
                "renewalIntervalInSecs": {"type": "integer", "minimum": 1, "maximum": 3600},
                "durationInSecs": {"type": "integer", "minimum": 1, "maximum": 86400},
            },
        },
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["hostName", "app", "ipAddr", "dataCenterInfo"],
}
_APPLICATION: Final = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "instance": {"type": "array", "items": {"$ref": "#/components/schemas/InstanceOut"}},
    },
    "required": ["name", "instance"],
}
_APPLICATIONS: Final = {
    "type": "object",
    "properties": {
        "applications": {
            "type": "object",
            "properties": {
                "versions__delta": {"type": "string"},
                "apps__hashcode": {"type": "string"},
                "application": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/Application"},
                },
            },
            "required": ["versions__delta", "apps__hashcode", "application"],
        }
    },
    "required": ["applications"],
}
_REPLICATION_ITEM: Final = {
    "type": "object",
    "properties": {
        "appName": {"type": "string"},
        "id": {"type": "string"},
        "lastDirtyTimestamp": {"type": "integer", "minimum": 0},
        "status": _STATUS,
        "overriddenStatus": _STATUS,
        "instanceInfo": {"$ref": "#/components/schemas/InstanceIn"},
        "action": {
            "type": "string",
            "enum": ["Register", "Heartbeat", "Cancel", "StatusUpdate", "DeleteStatusOverride"],
        },
    },
    "required": ["appName", "id", "action"],
}
_DASHBOARD_DATA: Final = {
    "type": "object",
    "properties": {
        "info": {"type": "object"},
        "canAct": {"type": "boolean"},
        "chart": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
        "registered": {"type": "array", "items": {"type": "array"}},
        "ended": {"type": "array", "items": {"type": "array"}},
        "columns": {"type": "array", "items": {"type": "string"}},
        "instances": {"type": "array", "items": {"type": "array"}},
    },
    "required": ["info", "canAct", "chart", "registered", "ended", "columns", "instances"],
}
_DASHBOARD_ACTION: Final = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": list(ACTIONS)},
        "app": {"type": "string", "minLength": 1},
        "id": {"type": "string", "minLength": 1},
    },
    "required": ["action", "app", "id"],
}
_DASHBOARD_DONE: Final = {
    "type": "object",
    "properties": {
        "done": {"type": "string", "enum": list(ACTIONS)},
        "app": {"type": "string"},
        "id": {"type": "string"},
    },
    "required": ["done", "app", "id"],
}

_SCHEMAS: Final = {
    "DashboardData": _DASHBOARD_DATA,
    "DashboardAction": _DASHBOARD_ACTION,
    "DashboardDone": _DASHBOARD_DONE,
    "InstanceOut": _INSTANCE_OUT,
    "InstanceIn": _INSTANCE_IN,
    "Application": _APPLICATION,
    "Applications": _APPLICATIONS,
    "Instance": {
        "type": "object",
        "properties": {"instance": {"$ref": "#/components/schemas/InstanceOut"}},
        "required": ["instance"],
    },
    "ApplicationPayload": {
        "type": "object",
        "properties": {"application": {"$ref": "#/components/schemas/Application"}},
        "required": ["application"],
    },
    "Registration": {
        "type": "object",
        "properties": {"instance": {"$ref": "#/components/schemas/InstanceIn"}},
        "required": ["instance"],
    },
    "ReplicationBatch": {
        "type": "object",
        "properties": {
            "replicationList": {"type": "array", "items": _REPLICATION_ITEM, "maxItems": 20}
        },
        "required": ["replicationList"],
    },
    "ReplicationResults": {
        "type": "object",
        "properties": {
            "responseList": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "statusCode": {"type": "integer"},
                        "responseEntity": {"type": "object"},
                    },
                    "required": ["statusCode"],
                },
            }
        },
        "required": ["responseList"],
    },
    "Reason": {"type": "string", "description": "what was wrong, for a person to read"},
}

# -- parameters and headers


def _header(name: str, description: str, **schema: Any) -> JsonObject:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


def _query(name: str, description: str, schema: Mapping[str, Any]) -> JsonObject:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": dict(schema),
    }


_ACCEPT: Final = _header(
    "Accept", "JSON when it mentions json; anything else (none, */*, xml) means XML"
)
_ACCEPT_ENCODING: Final = _header("Accept-Encoding", "gzip: the body gzipped")
_COMPACT: Final = _header(
    "X-Eureka-Accept", "compact: instances without URLs, metadata, lease and the like"
)
_IF_NONE_MATCH: Final = _header("If-None-Match", "an ETag of an earlier answer: 304 if unchanged")
_REPLICATION: Final = _header(
    REPLICATION_HEADER, "true: a write a peer forwarded, applied but never replicated again"
)
_CONTENT_ENCODING: Final = _header(
    "Content-Encoding", "gzip, x-gzip or identity; anything else is a 415"
)
_INDEX_PARAM: Final = _query(
    "index",
    f"watch: hold the answer while the view's {INDEX_HEADER} is still this number",
    {"type": "string", "pattern": "^[0-9]{1,18}$"},
)
_WAIT_PARAM: Final = _query(
    "wait",
    f"how long a watch is held: a number with ms, s, m or h (default {DEFAULT_WAIT_S:.0f}s, "
    f"at most {MAX_WAIT_S:.0f}s)",
    {"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,9})?(ms|s|m|h)?$"},
)
_REGIONS_PARAM: Final = _query(
    "regions",
    "remote regions whose applications the answer includes, comma-separated (any case, any "
    "order); names this node does not follow (serve --remote-region) are ignored. A read that "
    f"names regions is not a watch: index and wait are ignored and no {INDEX_HEADER} is sent",
    {"type": "string"},
)
_LAST_DIRTY: Final = _query(
    "lastDirtyTimestamp", "epoch milliseconds of the client's copy", {"type": "integer"}
)

_READ_HEADERS: Final = (_ACCEPT, _ACCEPT_ENCODING, _COMPACT)
_CACHED_READ: Final = (*_READ_HEADERS, _IF_NONE_MATCH)
_WATCH: Final = (_INDEX_PARAM, _WAIT_PARAM)
_WRITE: Final = (_ACCEPT, _REPLICATION)


_PATH_EXAMPLES: Final = {
    "app": "ORDERS",
    "instance_id": "host1:orders:8080",
    "vip": "orders",
    "asg_name": "orders-v042",
}


def _path_param(name: str) -> JsonObject:
    # Ids arrive percent-encoded or raw (``h%3Aapp%3A8080``); both name the same instance.
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "example": _PATH_EXAMPLES[name],
    }


# -- responses

_INDEX_HEADER_OUT: Final = {
    INDEX_HEADER: {
        "description": "the index of the view shown, for a later ?index= watch (absent when "
        "the read names regions)",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}
_RETRY_AFTER: Final = {
    "Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}
}


def _refusal(description: str, headers: Mapping[str, Any] | None = None) -> JsonObject:
    answer: JsonObject = {
        "description": description,
        "content": {_TEXT: {"schema": {"$ref": "#/components/schemas/Reason"}}},
    }
    if headers:
        answer["headers"] = dict(headers)
    return answer


def _payload(description: str, schema: str, xml_root: str, *, indexed: bool) -> JsonObject:
    answer: JsonObject = {
        "description": description,
        "content": {
            _JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}},
            _XML: {"schema": {"type": "object", "xml": {"name": xml_root}}},
        },
    }
    if indexed:
        answer["headers"] = dict(_INDEX_HEADER_OUT)
    return answer


def _bodiless(description: str) -> JsonObject:
    # Typed as negotiated (Jersey 1 does so) but empty: no schema to check.
    return {"description": description}


_NOT_MODIFIED: Final = {"description": "the If-None-Match ETag is still current; no body"}
_BAD_WATCH: Final = _refusal("a malformed index or wait")
_STOPPING: Final = _refusal(
    "the store cannot be reached, a watch on a server that is stopping, or (full and delta "
    "fetches) the fetch rate limit: retry later or ask another node",
    _RETRY_AFTER,
)
_UNAVAILABLE: Final = _refusal("the store cannot be reached; retry later", _RETRY_AFTER)
_CHALLENGE: Final = {
    name: {"description": "the scheme to answer with", "schema": {"type": "string", "const": value}}
    for name, value in CHALLENGE_HEADERS
}
_UNAUTHENTICATED: Final = _refusal(
    "credentials missing where anonymous is not enough, or wrong ones (even where it is)",
    _CHALLENGE,
)
_FORBIDDEN: Final = (
    "a known user without the right: the role it lacks, an application it may not write, or "
    "the replication header from anyone but a peer"
)
_THROTTLED: Final = _refusal(
    "too many failed logins from this address within the minute: its requests with "
    "credentials are refused until the minute ends",
    _RETRY_AFTER,
)
_TOO_LARGE: Final = _refusal("the body (as sent, or once decoded) is above the server's limit")
_UNREADABLE: Final = _refusal("a Content-Encoding or a media type this server cannot read")


@dataclass(frozen=True)
class _Operation:
    """One method of one route: what it takes and every status it can answer."""

    summary: str
    responses: Mapping[int, JsonObject]
    parameters: Sequence[JsonObject] = ()
    body: JsonObject | None = None
    tags: tuple[str, ...] = ("eureka",)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def render(self, operation_id: str, path_params: Iterable[str]) -> JsonObject:
        rendered: JsonObject = {
            "operationId": operation_id,
            "summary": self.summary,
            "tags": list(self.tags),
            "parameters": [*(_path_param(p) for p in path_params), *self.parameters],
            "responses": {str(code): answer for code, answer in sorted(self.responses.items())},
        }
        if self.body is not None:
            rendered["requestBody"] = self.body
        rendered.update(self.extra)
        return rendered


def _body(json_schema: str, xml_root: str | None, example: JsonObject | None = None) -> JsonObject:
    json_content: JsonObject = {"schema": {"$ref": f"#/components/schemas/{json_schema}"}}
    if example is not None:
        json_content["example"] = example
    content: JsonObject = {_JSON: json_content}
    if xml_root is not None:
        content[_XML] = {"schema": {"type": "object", "xml": {"name": xml_root}}}
    return {"required": True, "content": content}


#: A registration under ``apps/ORDERS``, as Spring Cloud's client sends it (trimmed).
_REGISTRATION_EXAMPLE: Final = {
    "instance": {
        "instanceId": "host1:orders:8080",
        "hostName": "host1",
        "app": "ORDERS",
        "ipAddr": "10.0.0.1",
        "status": "UP",
        "port": {"$": 8080, "@enabled": "true"},
        "vipAddress": "orders",
        "dataCenterInfo": {
            "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
            "name": "MyOwn",
        },
    }
}
_NO_INSTANCE: Final = _refusal("no such instance (or application)")


def _vip_read(field_name: str) -> _Operation:
    return _Operation(
        f"the instances whose {field_name} lists this name (an unknown one: none)",
        {
            200: _payload("matching instances", "Applications", "applications", indexed=True),
            304: _NOT_MODIFIED,
            400: _BAD_WATCH,
            503: _STOPPING,
        },
        (*_CACHED_READ, *_WATCH, _REGIONS_PARAM),
    )


_REGION_NOT_READY: Final = "a remote region was not fetched yet (the read names regions)"

#: Every operation, by route template below the base path (absolute for ``/``, ``/metrics``
#: and the dashboard's) and method.
_OPERATIONS: Final[Mapping[tuple[str, str], _Operation]] = {
    ("apps", "GET"): _Operation(
        "the full registry",
        {
            200: _payload("every application", "Applications", "applications", indexed=True),
            304: _NOT_MODIFIED,
            400: _BAD_WATCH,
            403: _refusal(f"the start-up copy from peers is in progress, or {_REGION_NOT_READY}"),
            503: _STOPPING,
        },
        (*_CACHED_READ, *_WATCH, _REGIONS_PARAM),
    ),
    ("apps/delta", "GET"): _Operation(
        "what changed in the last minutes, with the full registry's hashcode",
        {
            200: _payload("recent changes", "Applications", "applications", indexed=True),
            304: _NOT_MODIFIED,
            400: _BAD_WATCH,
            403: _refusal(
                "this server does not serve deltas, its start-up copy from peers is in progress, "
                f"or {_REGION_NOT_READY}"
            ),
            503: _STOPPING,
        },
        (*_CACHED_READ, *_WATCH, _REGIONS_PARAM),
    ),
    ("apps/{app}", "GET"): _Operation(
        "one application",
        {
            200: _payload("its instances", "ApplicationPayload", "application", indexed=True),
            304: _NOT_MODIFIED,
            400: _BAD_WATCH,
            404: _refusal("no instances registered under it", _INDEX_HEADER_OUT),
            503: _STOPPING,
        },
        (*_CACHED_READ, *_WATCH),
    ),
    ("apps/{app}", "POST"): _Operation(
        "register an instance (a new lease)",
        {
            204: _bodiless("registered"),
            400: _refusal("not a valid instance, or its app differs from the path's"),
            413: _TOO_LARGE,
            415: _UNREADABLE,
            503: _UNAVAILABLE,
        },
        (*_WRITE, _CONTENT_ENCODING),
        _body("Registration", "instance", _REGISTRATION_EXAMPLE),
    ),
    ("apps/{app}/{instance_id}", "GET"): _Operation(
        "one instance, with its live lease",
        {
            200: _payload("the instance", "Instance", "instance", indexed=True),
            400: _BAD_WATCH,
            404: _refusal("no such instance", _INDEX_HEADER_OUT),
            503: _STOPPING,
        },
        (*_READ_HEADERS, *_WATCH),
    ),
    ("apps/{app}/{instance_id}", "PUT"): _Operation(
        "heartbeat: renew the lease",
        {
            200: _bodiless("renewed"),
            400: _refusal("a malformed lastDirtyTimestamp or overriddenstatus"),
            404: _refusal("unknown, UNKNOWN, or a newer lastDirtyTimestamp: register again"),
            409: _payload(
                "a replication older than what this node holds: adopt this instance",
                "Instance",
                "instance",
                indexed=False,
            ),
            503: _UNAVAILABLE,
        },
        (
            *_WRITE,
            _LAST_DIRTY,
            _query("status", "ignored, as Eureka ignores it", {"type": "string"}),
            _query("overriddenstatus", "the override the client knows of", _STATUS),
        ),
    ),
    ("apps/{app}/{instance_id}", "DELETE"): _Operation(
        "cancel the lease",
        {200: _bodiless("cancelled"), 404: _NO_INSTANCE, 503: _UNAVAILABLE},
        _WRITE,
    ),
    ("apps/{app}/{instance_id}/status", "PUT"): _Operation(
        "set the status override",
        {
            200: _bodiless("set"),
            400: _refusal("value missing or not a status, or a malformed lastDirtyTimestamp"),
            404: _NO_INSTANCE,
            503: _UNAVAILABLE,
        },
        (
            *_WRITE,
            {**_query("value", "the new status", _STATUS), "required": True},
            _LAST_DIRTY,
        ),
    ),
    ("apps/{app}/{instance_id}/status", "DELETE"): _Operation(
        "remove the status override",
        {
            200: _bodiless("removed"),
            400: _refusal("value not a status, or a malformed lastDirtyTimestamp"),
            404: _NO_INSTANCE,
            503: _UNAVAILABLE,
        },
        (*_WRITE, _query("value", "the status afterwards (UNKNOWN when omitted)", _STATUS)),
    ),
    ("apps/{app}/{instance_id}/metadata", "PUT"): _Operation(
        "merge the query parameters into the instance's metadata",
        {
            200: _bodiless("merged"),
            400: _refusal("a key that is not an XML name, or a value XML cannot carry"),
            404: _NO_INSTANCE,
            503: _UNAVAILABLE,
        },
        _WRITE,
        extra={"x-query-parameters": "any name=value pair becomes a metadata entry"},
    ),
    ("instances/{instance_id}", "GET"): _Operation(
        "one instance, whatever application holds it",
        {
            200: _payload("the instance", "Instance", "instance", indexed=False),
            404: _NO_INSTANCE,
            503: _UNAVAILABLE,
        },
        _READ_HEADERS,
    ),
    ("vips/{vip}", "GET"): _vip_read("vipAddress"),
    ("svips/{vip}", "GET"): _vip_read("secureVipAddress"),
    ("status", "GET"): _Operation(
        "this server: uptime, self-preservation, renewals, peers, instance counts",
        {
            200: {
                "description": "the server's status",
                "content": {
                    _JSON: {"schema": {"type": "object"}},
                    _XML: {"schema": {"type": "object", "xml": {"name": "status"}}},
                },
            },
            503: _UNAVAILABLE,
        },
        (_ACCEPT,),
    ),
    ("asg/{asg_name}/status", "PUT"): _Operation(
        "set an ASG's state: a disabled ASG's instances are out of service (Eureka's ASGResource)",
        {
            200: _bodiless("set, and forwarded to peers unless a peer sent it"),
            400: _refusal("value missing or neither ENABLED nor DISABLED"),
            503: _UNAVAILABLE,
        },
        (
            _REPLICATION,
            {
                **_query("value", "the new state, in any case", {"enum": ["ENABLED", "DISABLED"]}),
                "required": True,
            },
        ),
        tags=("operations",),
    ),
    ("serverinfo/statusoverrides", "GET"): _Operation(
        "the status overrides, from instance id to status (Eureka's ServerInfoResource)",
        {
            200: {
                "description": "instance id -> status; JSON whatever the Accept",
                "content": {
                    _JSON: {
                        "schema": {"type": "object", "additionalProperties": {"type": "string"}}
                    }
                },
            },
            503: _UNAVAILABLE,
        },
        tags=("operations",),
    ),
    ("peerreplication/batch", "POST"): _Operation(
        "writes a peer forwarded, each answered on its own",
        {
            200: {
                "description": "one result per item, in order",
                "content": {_JSON: {"schema": {"$ref": "#/components/schemas/ReplicationResults"}}},
            },
            400: _refusal("not a replication batch"),
            413: _TOO_LARGE,
            415: _UNREADABLE,
        },
        (_CONTENT_ENCODING,),
        _body("ReplicationBatch", None),
        tags=("replication",),
    ),
    (OPENAPI_TEMPLATE, "GET"): _Operation(
        "this document",
        {200: {"description": "OpenAPI 3.1", "content": {_JSON: {"schema": {"type": "object"}}}}},
        tags=("meta",),
    ),
    ("/healthz", "GET"): _Operation(
        "liveness: the process serves (open without credentials)",
        {200: {"description": "ok", "content": {_TEXT: {}}}},
        tags=("meta",),
    ),
    ("/readyz", "GET"): _Operation(
        "readiness: the start-up copy is over and the store answers (open without credentials)",
        {
            200: {"description": "ready", "content": {_TEXT: {}}},
            503: _refusal(
                "not ready, and why: the store does not answer, or the start-up copy from peers "
                "is in progress"
            ),
        },
        tags=("meta",),
    ),
    ("/", "GET"): _Operation(
        "the dashboard (its data comes from /dashboard/data)",
        {200: {"description": "an HTML page", "content": {"text/html": {}}}},
        tags=("dashboard",),
    ),
    (DATA_PATH, "GET"): _Operation(
        "what the dashboard shows: server, peers, chart samples, recent leases, every instance "
        "as a row of the fields named in columns",
        {
            200: {
                "description": "the dashboard's data",
                "headers": dict(_INDEX_HEADER_OUT),
                "content": {_JSON: {"schema": {"$ref": "#/components/schemas/DashboardData"}}},
            },
            400: _BAD_WATCH,
            503: _STOPPING,
        },
        (_ACCEPT_ENCODING, *_WATCH),
        tags=("dashboard",),
    ),
    (ACTIONS_PATH, "POST"): _Operation(
        "an operator's action on one instance (the admin role when auth is on)",
        {
            200: {
                "description": "done",
                "content": {_JSON: {"schema": {"$ref": "#/components/schemas/DashboardDone"}}},
            },
            400: _refusal("not an action: the reason says which field"),
            403: _refusal(f"a cross-site request, or one without the {ACTION_HEADER} header"),
            404: _NO_INSTANCE,
            503: _UNAVAILABLE,
        },
        (_header(ACTION_HEADER, "any value: a request a cross-site form cannot send"),),
        {
            "required": True,
            "content": {
                _JSON: {
                    "schema": {"$ref": "#/components/schemas/DashboardAction"},
                    "example": {"action": "out_of_service", "app": "ORDERS", "id": "host1"},
                }
            },
        },
        tags=("dashboard",),
    ),
    ("/metrics", "GET"): _Operation(
        "Prometheus metrics",
        {
            200: {"description": "the text exposition format", "content": {_TEXT: {}}},
            503: _UNAVAILABLE,
        },
        tags=("meta",),
    ),
}


def _base_paths(templates: Iterable[str]) -> list[str]:
    """The base paths the API is mounted at ('' for the root), from where ``apps`` is."""
    return sorted({t[: -len("/apps")] for t in templates if t.endswith("/apps")})


def _split(template: str, bases: Sequence[str]) -> tuple[str, str]:
    """``template`` as (base, template below it); absolute routes have no base."""
    for base in sorted(bases, key=len, reverse=True):
        below = template[len(base) + 1 :]
        if template.startswith(base + "/") and any(key[0] == below for key in _OPERATIONS):
            return base, below
    return "", template


def _operation_id(base: str, below: str, method: str) -> str:
    words = [w.strip("{}") for w in f"{base}/{below}".split("/") if w]
    return "_".join([method.lower(), *words]) or method.lower()


def _guarded(operation: JsonObject, access: Access, basic: BasicAuth | None) -> JsonObject:
    """``operation`` as the guard answers it (checking ``basic``, or the host application's
    own check when None): with its refusals (and, for ``basic``, the security) added to what
    the endpoint answers."""
    if access is Access.OPEN:
        return operation
    responses = dict(operation["responses"])
    responses["401"] = _UNAUTHENTICATED
    endpoint_403 = responses.get("403")  # the endpoint's own (deltas off) and the guard's
    reasons = (
        _FORBIDDEN if endpoint_403 is None else f"{endpoint_403['description']}; or {_FORBIDDEN}"
    )
    responses["403"] = _refusal(reasons)
    secured: JsonObject = {**operation}
    if basic is not None:
        responses["429"] = _THROTTLED
        # Any application name: anonymous roles are never scoped to applications.
        anonymous_may = refusal_reason(basic.anonymous, access, "ANY", replication=False) is None
        secured["security"] = [*([{}] if anonymous_may else []), {"basic": []}]
    secured["responses"] = dict(sorted(responses.items()))
    return secured


def openapi_document(
    routes: Mapping[str, Iterable[str]], *, title: str, guard: AccessGuard | None = None
) -> JsonObject:
    """The document of ``routes`` (each template with its methods), plus itself under each
    base path; ``guard``: what checks every one of ``routes`` (the document's own route is
    not checked).

    :raises LookupError: a route or method that :data:`_OPERATIONS` does not describe.
    """
    bases = _base_paths(routes)
    served = {t: list(methods) for t, methods in routes.items()}
    for base in bases:
        served.setdefault(f"{base}/{OPENAPI_TEMPLATE}", ["GET"])
    basic = guard.auth if guard is not None and isinstance(guard.auth, BasicAuth) else None
    paths: JsonObject = {}
    for template, methods in served.items():
        base, below = _split(template, bases)
        item: JsonObject = {}
        for method in methods:
            operation = _OPERATIONS.get((below, method))
            if operation is None:
                raise LookupError(f"{method} {template} is served but not documented")
            fields = [w[1:-1] for w in below.split("/") if w.startswith("{")]
            rendered = operation.render(_operation_id(base, below, method), fields)
            if guard is not None and template in routes:
                rendered = _guarded(rendered, access_of(below, method), basic)
            item[method.lower()] = rendered
        paths[template] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{title} (Eureka REST API)",
            "version": eureka_embed.__version__,
            "description": (
                "Netflix Eureka's REST API as eureka_embed serves it, under each base path "
                f"({', '.join(b or '/' for b in bases)}), with watches ({INDEX_HEADER}, "
                "?index=, ?wait=). Bodies are XML unless Accept mentions json."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {} if basic is None else dict(BASIC_SCHEME),
        },
    }


class OpenApiEndpoint:
    """``GET {base}/openapi.json``: the document, encoded once."""

    def __init__(
        self,
        routes: Mapping[str, Iterable[str]],
        *,
        title: str,
        guard: AccessGuard | None = None,
    ) -> None:
        self.document = openapi_document(routes, title=title, guard=guard)
        self._body = json.dumps(self.document, indent=1).encode()

    def __call__(self, req: EndpointRequest) -> EndpointResponse:
        return EndpointResponse(200, _JSON, self._body, (("Cache-Control", "no-cache"),))


def openapi_routes(api: EurekaApi) -> list[Route]:
    """``{base}/openapi.json`` under each base path of ``api``, describing all its routes."""
    routes = {route.template: list(route.handlers) for route in api.routes}
    endpoint = OpenApiEndpoint(routes, title=api.services.title, guard=api.guard)
    return [
        Route(f"{base}/{OPENAPI_TEMPLATE}", {"GET": endpoint}, inline_methods=frozenset({"GET"}))
        for base in _base_paths(routes)
    ]
