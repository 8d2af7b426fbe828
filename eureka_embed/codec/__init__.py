"""Eureka's wire formats: instance, application and registry payloads in JSON and XML.

The only place that knows how Eureka spells the model on the wire (``"$"``, ``"@class"``,
``versions__delta``). Both formats share one set of lenient readers and one set of writers
(:mod:`.readers`, :mod:`.writers`); :mod:`.jsoncodec` and :mod:`.xmlcodec` only turn bytes into
the common tree shape and back.

Decoding raises :class:`~eureka_embed.errors.DecodeError` (an unreadable payload) with a reason
naming the field; nothing else escapes. Decoding does not judge: the register rules are
:mod:`eureka_embed.register_rules`, applied by the registry. ``decode_instance`` and
``instance_from_dict`` read a registration by default (``registration=True``: what the rules must
see is kept as sent, see :mod:`.readers`); pass ``registration=False`` to read an instance a
server sent. ``now_ms`` stands for "now" where a payload has no lastDirtyTimestamp.
"""

from __future__ import annotations

import enum
from typing import Any

from eureka_embed.codec import jsoncodec, readers, writers, xmlcodec
from eureka_embed.codec.bulk import collection_paused
from eureka_embed.codec.jsoncodec import EncodedInstances
from eureka_embed.codec.readers import DecodedInstances
from eureka_embed.model import Application, Applications, InstanceInfo

__all__ = [
    "DecodedInstances",
    "EncodedInstances",
    "WireFormat",
    "decode_application",
    "decode_applications",
    "decode_instance",
    "encode_application",
    "encode_applications",
    "encode_instance",
    "instance_from_dict",
    "instance_to_dict",
]


class WireFormat(enum.Enum):
    """A payload format; the value is its media type."""

    JSON = "application/json"
    XML = "application/xml"

    @property
    def content_type(self) -> str:
        return self.value

    @classmethod
    def from_accept(cls, accept: str | None) -> WireFormat:
        """Eureka's rule: JSON only when asked for; no header, ``*/*`` or xml all mean XML."""
        if accept is not None and "json" in accept.lower():
            return cls.JSON
        return cls.XML

    @classmethod
    def from_content_type(cls, content_type: str | None) -> WireFormat:
        """The format of a request body: XML when it says xml, JSON otherwise (or when unsaid)."""
        lowered = (content_type or "").lower()
        if "json" not in lowered and "xml" in lowered:
            return cls.XML
        return cls.JSON


def encode_instance(instance: InstanceInfo, fmt: WireFormat, *, compact: bool = False) -> bytes:
    """``{"instance": {...}}`` or ``<instance>...</instance>``."""
    if fmt is WireFormat.JSON:
        return jsoncodec.encode_instance(instance, compact=compact)
    return xmlcodec.encode_instance(instance, compact=compact)


def encode_application(app: Application, fmt: WireFormat, *, compact: bool = False) -> bytes:
    """``{"application": {"name": ..., "instance": [...]}}`` or its XML."""
    if fmt is WireFormat.JSON:
        return jsoncodec.encode_application(app, compact=compact)
    return xmlcodec.encode_application(app, compact=compact)


def encode_applications(
    apps: Applications,
    fmt: WireFormat,
    *,
    compact: bool = False,
    json_cache: EncodedInstances | None = None,
) -> bytes:
    """``{"applications": {"versions__delta", "apps__hashcode", "application": [...]}}``.

    ``json_cache`` keeps each instance's JSON between calls (see :class:`EncodedInstances`).
    """
    if fmt is WireFormat.JSON:
        return jsoncodec.encode_applications(apps, compact=compact, cache=json_cache)
    return xmlcodec.encode_applications(apps, compact=compact)


def decode_instance(
    body: bytes | str, fmt: WireFormat, *, now_ms: int | None = None, registration: bool = True
) -> InstanceInfo:
    """An instance payload, wrapped or (JSON only) bare; read as a registration by default."""
    now = readers.resolve_now(now_ms)
    if fmt is WireFormat.JSON:
        return jsoncodec.decode_instance(body, now_ms=now, registration=registration)
    return xmlcodec.decode_instance(body, now_ms=now, registration=registration)


def decode_application(
    body: bytes | str, fmt: WireFormat, *, now_ms: int | None = None
) -> Application:
    now = readers.resolve_now(now_ms)
    if fmt is WireFormat.JSON:
        return jsoncodec.decode_application(body, now_ms=now)
    return xmlcodec.decode_application(body, now_ms=now)


def decode_applications(
    body: bytes | str,
    fmt: WireFormat,
    *,
    now_ms: int | None = None,
    reuse: DecodedInstances | None = None,
) -> Applications:
    """A registry payload. ``reuse`` hands back the unchanged instances of the last payload
    read with it (see :class:`~eureka_embed.codec.readers.DecodedInstances`)."""
    now = readers.resolve_now(now_ms)
    with collection_paused():  # see codec.bulk: millions of new objects, none garbage
        if fmt is WireFormat.JSON:
            return jsoncodec.decode_applications(body, now_ms=now, reuse=reuse)
        return xmlcodec.decode_applications(body, now_ms=now, reuse=reuse)


def instance_to_dict(instance: InstanceInfo, *, compact: bool = False) -> dict[str, Any]:
    """The unwrapped JSON instance object (as the replication batch embeds it); yours to change."""
    return writers.instance_dict(instance, compact=compact)


def instance_from_dict(
    d: object, *, now_ms: int | None = None, registration: bool = True
) -> InstanceInfo:
    """An unwrapped JSON instance object, as decoded by any JSON parser; read as above."""
    return readers.read_instance(
        d, "instance", now_ms=readers.resolve_now(now_ms), registration=registration
    )
