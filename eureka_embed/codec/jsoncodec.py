"""Eureka JSON: payload trees <-> bytes with orjson.

Encoding calls ``orjson.dumps`` once per payload. Registry payloads leave each instance in the
tree as a model object and let orjson's ``default`` hook turn it into its tree while writing: the
per-instance dicts are then short-lived instead of piling up for the garbage collector, which
keeps a 10,000-instance registry well under 40 ms on a modest machine.

Decoding accepts a wrapped payload (``{"instance": {...}}``) or, because some clients send that,
the bare object; a wrapper holding a one-element list is unwrapped too. Everything else about the
values is the readers' business (:mod:`~eureka_embed.codec.readers`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson

from eureka_embed.codec import readers, writers
from eureka_embed.errors import DecodeError
from eureka_embed.model import Application, Applications, InstanceInfo

__all__ = [
    "EncodedInstances",
    "decode_application",
    "decode_applications",
    "decode_instance",
    "encode_application",
    "encode_applications",
    "encode_instance",
    "instance_bytes",
    "string_bytes",
]

_SURROGATES: Final = re.compile("[\ud800-\udfff]")


def _hook(compact: bool) -> Callable[[Any], Any]:
    """orjson's ``default``: writes the instances left in registry trees as model objects, and
    the model's read-only metadata maps."""

    def default(value: Any) -> Any:
        if isinstance(value, InstanceInfo):
            return writers.instance_tree(value, compact=compact)
        if isinstance(value, Mapping):
            return dict(value)
        raise TypeError(f"cannot encode {type(value).__name__} as Eureka JSON")

    return default


_HOOKS: Final = {False: _hook(False), True: _hook(True)}


class EncodedInstances:
    """Each instance's JSON, kept between registry encodings.

    Instances are immutable and the registry hands out the same object until a write replaces
    it, so an instance that is still *the same object* still encodes to the same bytes. A
    registry payload is then mostly a splice of cached fragments: only changed instances are
    encoded again. Entries for instances that left are dropped by :meth:`retain`.
    """

    def __init__(self, *, compact: bool = False) -> None:
        self.compact = compact
        self._entries: dict[tuple[str, str], tuple[InstanceInfo, orjson.Fragment]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def fragment(self, instance: InstanceInfo) -> orjson.Fragment:
        key = (instance.app, instance.instance_id)
        hit = self._entries.get(key)
        if hit is not None and hit[0] is instance:
            return hit[1]
        encoded = orjson.Fragment(_dumps_instance(instance, self.compact))
        self._entries[key] = (instance, encoded)
        return encoded

    def retain(self, applications: Applications) -> None:
        """Forget instances not in ``applications`` once stale entries pile up."""
        live = sum(len(app.instances) for app in applications.applications)
        if len(self._entries) <= live + live // 4 + 64:
            return
        keep = {(i.app, i.instance_id) for i in applications.instances()}
        self._entries = {k: v for k, v in self._entries.items() if k in keep}


def instance_bytes(instance: InstanceInfo, *, compact: bool = False) -> bytes:
    """The unwrapped instance object, as it stands inside a registry or application payload."""
    return _dumps_instance(instance, compact)


def string_bytes(text: str) -> bytes:
    """``text`` as a JSON string literal (lone surrogates replaced, as in every payload)."""
    try:
        return _exact(orjson.dumps(text))
    except orjson.JSONEncodeError:
        return _exact(orjson.dumps(_SURROGATES.sub("\ufffd", text)))


def _dumps_instance(instance: InstanceInfo, compact: bool) -> bytes:
    tree = writers.instance_tree(instance, compact=compact)
    try:
        return _exact(orjson.dumps(tree, default=_HOOKS[compact]))
    except orjson.JSONEncodeError:
        return _exact(orjson.dumps(_scrub(tree, compact)))


def _exact(encoded: bytes) -> bytes:
    """``encoded`` in a bytes object of its own size, for what is kept between reads.

    orjson (3.13 here) returns its whole output buffer, at least 8 KiB however short the
    document: an instance's 700 bytes, cached per instance and representation, held 8 KiB of
    resident memory each (390 MiB for 50k instances, 35 MiB copied to size). The copy costs
    a fraction of the encoding.
    """
    return memoryview(encoded).tobytes()


def _scrub(value: Any, compact: bool) -> Any:
    """``value`` as plain data with lone surrogates replaced.

    UTF-8 cannot carry lone surrogates, so orjson refuses them. The readers never produce such
    strings; an instance built in-process might, and one bad string must not turn every registry
    read into an error. Only this rare fallback pays for the walk.
    """
    if isinstance(value, str):
        return _SURROGATES.sub("\ufffd", value)
    if isinstance(value, InstanceInfo):
        return _scrub(writers.instance_tree(value, compact=compact), compact)
    if isinstance(value, list):
        return [_scrub(item, compact) for item in value]
    if isinstance(value, Mapping):
        return {_scrub(key, compact): _scrub(item, compact) for key, item in value.items()}
    return value


def _dumps(
    wrapper: str, tree: Any, *, compact: bool, cache: EncodedInstances | None = None
) -> bytes:
    hook = _HOOKS[compact] if cache is None else _cached_hook(cache)
    try:
        # Dataclasses must reach the hook: orjson would otherwise write their Python field names.
        return orjson.dumps({wrapper: tree}, default=hook, option=orjson.OPT_PASSTHROUGH_DATACLASS)
    except orjson.JSONEncodeError:
        return orjson.dumps({wrapper: _scrub(tree, compact)})


def _cached_hook(cache: EncodedInstances) -> Callable[[Any], Any]:
    plain = _HOOKS[cache.compact]
    fragment = cache.fragment

    def default(value: Any) -> Any:
        if isinstance(value, InstanceInfo):
            return fragment(value)
        return plain(value)

    return default


def encode_instance(instance: InstanceInfo, *, compact: bool = False) -> bytes:
    return _dumps("instance", writers.instance_tree(instance, compact=compact), compact=compact)


def encode_application(application: Application, *, compact: bool = False) -> bytes:
    tree = writers.application_tree(application)
    return _dumps("application", tree, compact=compact)


def encode_applications(
    applications: Applications, *, compact: bool = False, cache: EncodedInstances | None = None
) -> bytes:
    """The registry payload; ``cache`` (of the same compactness) reuses unchanged instances."""
    if cache is not None and cache.compact != compact:
        raise ValueError("the instance cache was made for the other compactness")
    tree = writers.applications_tree(applications)
    return _dumps("applications", tree, compact=compact, cache=cache)


def _loads(body: bytes | str) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"body is not valid JSON: {exc}") from None


def _unwrap(tree: object, key: str) -> object:
    """The payload inside ``{key: ...}``, or the whole object when it came bare."""
    if not isinstance(tree, dict):
        kind = "a list" if isinstance(tree, list) else type(tree).__name__
        raise DecodeError(f"body must be a JSON object, got {kind}")
    if key not in tree:
        return tree
    inner = tree[key]
    if isinstance(inner, list) and len(inner) == 1:
        return inner[0]
    return inner


def decode_instance(body: bytes | str, *, now_ms: int, registration: bool) -> InstanceInfo:
    tree = _unwrap(_loads(body), "instance")
    return readers.read_instance(tree, "instance", now_ms=now_ms, registration=registration)


def decode_application(body: bytes | str, *, now_ms: int) -> Application:
    tree = _unwrap(_loads(body), "application")
    return readers.read_application(tree, "application", now_ms=now_ms)


def decode_applications(
    body: bytes | str, *, now_ms: int, reuse: readers.DecodedInstances | None = None
) -> Applications:
    tree = _unwrap(_loads(body), "applications")
    return readers.read_applications(tree, "applications", now_ms=now_ms, reuse=reuse)
