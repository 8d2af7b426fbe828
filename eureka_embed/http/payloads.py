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

**Every answer is assembled from cached pieces** (:mod:`eureka_embed.codec.segments`): each
instance is encoded once per change of that instance, each application's segment is kept, and
each segment is compressed once (:mod:`eureka_embed.http.gzip_segments`). After one change a
rebuild encodes and compresses only the changed application's segment; the rest is copying.
The full registry and single applications share one segment cache per representation; the delta
has its own (its instances are the changed ones, carrying an action type). VIP answers reuse a
full-registry segment when they hold the whole application and build a throw-away one otherwise.
Segments of applications that left the registry (or the delta) are dropped when the full
registry (or the delta) is next built, so a deploy storm leaves nothing behind once its changes
leave the delta window.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeVar

from eureka_embed.codec import WireFormat
from eureka_embed.codec.segments import (
    AppSegment,
    SegmentCache,
    application_pieces,
    registry_pieces,
)
from eureka_embed.http.gzip_segments import Deflated, deflate, gzip_stream, joined
from eureka_embed.http.negotiation import Variant
from eureka_embed.http.payload_cache import PayloadCache, Version
from eureka_embed.model import Application, Applications
from eureka_embed.registry import Registry

if TYPE_CHECKING:
    from eureka_embed.remote_regions import RemoteRegions

__all__ = ["DELTA_TIME_BUCKET_MS", "Payload", "RegistryPayloads"]

DELTA_TIME_BUCKET_MS: Final = 1000

M = TypeVar("M", Application, Applications)

_REPRESENTATIONS: Final = [(fmt, compact) for fmt in WireFormat for compact in (False, True)]


@dataclass(frozen=True, slots=True)
class Payload:
    """Encoded bytes of one representation, and their strong ETag (unquoted, as Falcon takes it)."""

    body: bytes
    etag: str


class RegistryPayloads:
    """Cached encodings of the registry's full, delta, application and VIP answers."""

    def __init__(
        self,
        registry: Registry,
        cache: PayloadCache[Payload | None],
        remote_regions: RemoteRegions | None = None,
    ) -> None:
        self.registry = registry
        self.cache = cache
        #: The regions ``?regions=`` may add (:mod:`eureka_embed.remote_regions`); None: none.
        self.remote_regions = remote_regions
        self._token = secrets.token_hex(6)
        # The model an answer was built from, per version: the plain and gzipped variants of
        # one version read the registry once between them.
        self._models: PayloadCache[Application | Applications | None] = PayloadCache(
            cache.max_entries
        )
        self._registry_segments = {r: SegmentCache(*r) for r in _REPRESENTATIONS}
        self._delta_segments = {r: SegmentCache(*r) for r in _REPRESENTATIONS}

    def full(self, variant: Variant, regions: Sequence[str] = ()) -> Payload:
        """The full registry; with ``regions`` (followed ones, see
        :meth:`RemoteRegions.known`) their applications too."""
        version = (self.registry.sequence,)
        remote = self.remote_regions
        if regions and remote is not None:
            payload = self._cached(
                ("full", "", *regions),
                variant,
                (*version, *remote.version(regions)),
                lambda: remote.full(self.registry.get_applications(), regions),
                self._encode_merged,
            )
        else:
            payload = self._cached(
                ("full", ""), variant, version, self.registry.get_applications, self._encode_full
            )
        assert payload is not None  # the full registry always exists, if empty
        return payload

    def delta(
        self, variant: Variant, *, after_index: int | None = None, regions: Sequence[str] = ()
    ) -> Payload:
        """The delta window, or with ``after_index`` only what changed after that watch
        index (see :meth:`Registry.get_delta`); the watchers one change wakes all ask for
        the same index, so one of them builds it. With ``regions``, the window with their
        changes (a read with regions is never a watch)."""
        registry = self.registry
        version = (registry.sequence, registry.clock.now_ms() // DELTA_TIME_BUCKET_MS)
        remote = self.remote_regions
        if regions and remote is not None:
            payload = self._cached(
                ("delta", "", *regions),
                variant,
                (*version, *remote.version(regions)),
                lambda: remote.delta(registry.get_delta(), registry.get_applications(), regions),
                self._encode_merged,
            )
        elif after_index is None:
            payload = self._cached(
                ("delta", ""), variant, version, registry.get_delta, self._encode_delta
            )
        else:
            payload = self._cached(
                ("delta", str(after_index)),
                variant,
                version,
                lambda: registry.get_delta(after_index),
                self._encode_delta_after,
            )
        assert payload is not None
        return payload

    def application(self, name: str, variant: Variant) -> Payload | None:
        """The application's payload; None when it has no instances."""
        upper = name.upper()

        def read() -> Application | None:
            app = self.registry.get_application(upper)
            if app is None:
                for segments in self._registry_segments.values():
                    segments.forget(upper)
            return app

        return self._cached(
            ("app", upper), variant, (self.registry.sequence,), read, self._encode_application
        )

    def vip(
        self, name: str, variant: Variant, *, secure: bool = False, regions: Sequence[str] = ()
    ) -> Payload:
        # The registry matches VIP names case-insensitively: one cache entry per spelling-class.
        wanted = name.strip().lower()
        read = self.registry.get_secure_vip if secure else self.registry.get_vip
        version: Version = (self.registry.sequence,)
        remote = self.remote_regions
        if regions and remote is not None:

            def read_merged() -> Applications:
                return remote.vip(read(wanted), wanted, regions, secure=secure)

            payload = self._cached(
                ("svip" if secure else "vip", wanted, *regions),
                variant,
                (*version, *remote.version(regions)),
                read_merged,
                self._encode_vip,
            )
            assert payload is not None
            return payload
        payload = self._cached(
            ("svip" if secure else "vip", wanted),
            variant,
            version,
            lambda: read(wanted),
            self._encode_vip,
        )
        assert payload is not None
        return payload

    def _cached(
        self,
        what: tuple[str, ...],
        variant: Variant,
        version: Version,
        read: Callable[[], M | None],
        encode: Callable[[M, Variant], bytes],
    ) -> Payload | None:
        etag = f"{self._token}-{'.'.join(map(str, version))}-{variant.tag}"

        def build() -> Payload | None:
            model = self._models.get(what, version, read)
            if model is None:
                return None
            return Payload(encode(model, variant), etag)  # type: ignore[arg-type]

        return self.cache.get((what, variant), version, build)

    def _encode_full(self, apps: Applications, variant: Variant) -> bytes:
        segments = self._registry_segments[variant.fmt, variant.compact]
        body = _registry_body(apps, variant, segments, keep=True)
        segments.retain(app.name for app in apps.applications)
        return body

    def _encode_delta(self, apps: Applications, variant: Variant) -> bytes:
        segments = self._delta_segments[variant.fmt, variant.compact]
        body = _registry_body(apps, variant, segments, keep=True)
        segments.retain(app.name for app in apps.applications)
        return body

    def _encode_delta_after(self, apps: Applications, variant: Variant) -> bytes:
        # A few changes: their segments would only push the window's out of the cache.
        return _registry_body(
            apps, variant, self._delta_segments[variant.fmt, variant.compact], keep=False
        )

    def _encode_merged(self, apps: Applications, variant: Variant) -> bytes:
        # Merged applications are not the local ones: their segments would only push the
        # local registry's out of the cache.
        segments = self._registry_segments[variant.fmt, variant.compact]
        return _registry_body(apps, variant, segments, keep=False)

    def _encode_vip(self, apps: Applications, variant: Variant) -> bytes:
        segments = self._registry_segments[variant.fmt, variant.compact]
        return _registry_body(apps, variant, segments, keep=False)

    def _encode_application(self, app: Application, variant: Variant) -> bytes:
        segment = self._registry_segments[variant.fmt, variant.compact].segment(app)
        prefix, suffix = application_pieces(variant.fmt)
        return _body(prefix, [segment], b"", suffix, zipped=variant.gzip)


def _registry_body(
    apps: Applications, variant: Variant, segments: SegmentCache, *, keep: bool
) -> bytes:
    prefix, separator, suffix = registry_pieces(apps, variant.fmt)
    parts = [segments.segment(app, keep=keep) for app in apps.applications]
    return _body(prefix, parts, separator, suffix, zipped=variant.gzip)


def _body(
    prefix: bytes, segments: list[AppSegment], separator: bytes, suffix: bytes, *, zipped: bool
) -> bytes:
    if not zipped:
        pieces = [prefix]
        for index, segment in enumerate(segments):
            if index and separator:
                pieces.append(separator)
            pieces.extend(segment.pieces)
        pieces.append(suffix)
        return b"".join(pieces)
    parts = [deflate([prefix])]
    parts.extend(
        _deflated(segment, separator if index else b"") for index, segment in enumerate(segments)
    )
    parts.append(deflate([suffix]))
    return gzip_stream(parts)


def _deflated(segment: AppSegment, separator: bytes) -> Deflated:
    """The segment compressed on its own (after ``separator``), once per segment.

    Compressed run by run (:meth:`AppSegment.chunks`), reusing the runs of the segment it
    replaced: a change compresses the run it falls in, not its whole application.
    """
    key = ("deflated", separator)
    found = segment.derived.get(key)
    if isinstance(found, Deflated):
        return found
    runs_key = ("deflated runs", separator)
    inherited = segment.inherited.get(runs_key) if segment.inherited else None
    before: dict[tuple[bytes, ...], Deflated] = inherited if isinstance(inherited, dict) else {}
    runs: dict[tuple[bytes, ...], Deflated] = {}
    made: list[Deflated] = []
    for run in segment.chunks(separator):
        deflated = runs.get(run) or before.get(run) or deflate(run[1:], preceded_by=run[0])
        runs[run] = deflated
        made.append(deflated)
    whole = joined(made)
    # The runs are kept for the segment that replaces this one, which inherits them.
    segment.derived[runs_key] = runs
    segment.derived[key] = whole
    segment.inherited = None
    return whole
