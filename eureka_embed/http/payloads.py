"""The registry's cacheable answers, encoded once per change and per representation.

Full registry, delta, one application and VIP lookups are read by every client every 30 s and
change far less often, so their encoded (and gzipped) bytes are kept in a :class:`PayloadCache`
keyed by the registry's change sequence. Single-instance reads are not cached: they are cheap,
and they report the live lease.

**The delta depends on time as well as on changes**: an entry leaves it when it falls out of the
retention window, which moves no sequence number. Its cache version is therefore
``(sequence, now // DELTA_TIME_BUCKET_MS)``: a new change still shows at once (the sequence moves),
and an expired entry stays at most one bucket (1 s) past its window. A change that lingers a
second longer is harmless to clients (applying a delta entry twice changes nothing), and the
bucket bounds rebuilds to one a second in a registry that does not change.

**ETags name the build, not the bytes**: a token drawn when the app starts, the version the
payload was built for, and the representation. Two processes (or one process before and after a
restart with a memory store) can share a sequence number but not the token, so a 304 is never
answered for bytes the client does not have; hashing megabytes per change is saved.

Registry-wide JSON payloads splice each instance's cached encoding
(:class:`~eureka_embed.codec.EncodedInstances`): after a change only the changed instances are
encoded again.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from eureka_embed.codec import (
    EncodedInstances,
    WireFormat,
    encode_application,
    encode_applications,
)
from eureka_embed.http.negotiation import Variant, gzip_bytes
from eureka_embed.http.payload_cache import PayloadCache, Version
from eureka_embed.model import Application, Applications
from eureka_embed.registry import Registry

__all__ = ["DELTA_TIME_BUCKET_MS", "Payload", "RegistryPayloads"]

DELTA_TIME_BUCKET_MS: Final = 1000

M = TypeVar("M", Application, Applications)


@dataclass(frozen=True, slots=True)
class Payload:
    """Encoded bytes of one representation, and their strong ETag (unquoted, as Falcon takes it)."""

    body: bytes
    etag: str


class RegistryPayloads:
    """Cached encodings of the registry's full, delta, application and VIP answers."""

    def __init__(self, registry: Registry, cache: PayloadCache[Payload | None]) -> None:
        self.registry = registry
        self.cache = cache
        self._token = secrets.token_hex(6)
        self._json_instances = {
            compact: EncodedInstances(compact=compact) for compact in (False, True)
        }

    def full(self, variant: Variant) -> Payload:
        version = (self.registry.sequence,)
        payload = self._cached(
            ("full", ""), variant, version, self.registry.get_applications, self._encode_registry
        )
        assert payload is not None  # the full registry always exists, if empty
        return payload

    def delta(self, variant: Variant) -> Payload:
        registry = self.registry
        version = (registry.sequence, registry.clock.now_ms() // DELTA_TIME_BUCKET_MS)
        payload = self._cached(("delta", ""), variant, version, registry.get_delta, _encode_vip)
        assert payload is not None
        return payload

    def application(self, name: str, variant: Variant) -> Payload | None:
        """The application's payload; None when it has no instances."""
        upper = name.upper()
        return self._cached(
            ("app", upper),
            variant,
            (self.registry.sequence,),
            lambda: self.registry.get_application(upper),
            _encode_application,
        )

    def vip(self, name: str, variant: Variant, *, secure: bool = False) -> Payload:
        # The registry matches VIP names case-insensitively: one cache entry per spelling-class.
        wanted = name.strip().lower()
        read = self.registry.get_secure_vip if secure else self.registry.get_vip
        payload = self._cached(
            ("svip" if secure else "vip", wanted),
            variant,
            (self.registry.sequence,),
            lambda: read(wanted),
            _encode_vip,
        )
        assert payload is not None
        return payload

    def _cached(
        self,
        what: tuple[str, str],
        variant: Variant,
        version: Version,
        read: Callable[[], M | None],
        encode: Callable[[M, Variant], bytes],
    ) -> Payload | None:
        etag = f"{self._token}-{'.'.join(map(str, version))}-{variant.tag}"

        def build() -> Payload | None:
            if variant.gzip:
                # Compress the cached plain bytes: one encoding per change serves both.
                plain = self._cached(what, variant.unzipped, version, read, encode)
                return None if plain is None else Payload(gzip_bytes(plain.body), etag)
            model = read()
            if model is None:
                return None
            return Payload(encode(model, variant), etag)

        return self.cache.get((what, variant), version, build)

    def _encode_registry(self, apps: Applications, variant: Variant) -> bytes:
        if variant.fmt is not WireFormat.JSON:
            return _encode_vip(apps, variant)
        instances = self._json_instances[variant.compact]
        body = encode_applications(apps, variant.fmt, compact=variant.compact, json_cache=instances)
        instances.retain(apps)
        return body


def _encode_vip(apps: Applications, variant: Variant) -> bytes:
    """Partial registries (delta, VIP lookups): encoded whole, they are small."""
    return encode_applications(apps, variant.fmt, compact=variant.compact)


def _encode_application(app: Application, variant: Variant) -> bytes:
    return encode_application(app, variant.fmt, compact=variant.compact)
