"""Registry payloads assembled from pieces encoded once per change: per instance, per application.

A registry payload (full, delta, VIP) is a prefix naming its version and hashcode, one segment
per application, and a suffix. Each application's segment is a run of per-instance encodings;
all of them are cached here between reads, so after one change only the changed instance is
encoded again and only its application's segment is re-assembled. The HTTP layer compresses
each segment separately as well (:mod:`eureka_embed.http.gzip_segments`), which is why the
segments are kept apart instead of being joined into one body at once.

Instances are immutable and a store hands out the same object until a write replaces it, so
"the same object" means "the same bytes": an application whose instance tuple still holds the
very same objects reuses its segment (a tuple comparison, identity first, costs nanoseconds per
instance). A new object is encoded again even when equal, which costs only time.

The bytes are exactly those of :func:`~eureka_embed.codec.encode_applications` and
:func:`~eureka_embed.codec.encode_application` (the tests compare them byte for byte), so what
clients read does not depend on whether a cache was warm.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import compress, count, repeat
from operator import is_, mod, not_
from typing import Final, cast

from eureka_embed.codec import WireFormat, jsoncodec, xmlcodec
from eureka_embed.model import Application, Applications, InstanceInfo

__all__ = [
    "CHUNK_INSTANCES",
    "MAX_CHUNK_INSTANCES",
    "AppSegment",
    "SegmentCache",
    "application_pieces",
    "registry_pieces",
]


class AppSegment:
    """One application's encoded instances, and room for what the HTTP layer derives from them.

    ``derived`` is keyed by its user (for example "deflated, after a separator"); it lives and
    dies with the segment, so derived bytes never outlive the instances they encode.
    ``inherited`` is the ``derived`` of the segment this one replaced (the same application
    before a change), for a user that can reuse parts of it; that user drops it once done.
    """

    __slots__ = ("derived", "fmt", "fragments", "inherited", "instances", "name", "pieces")

    def __init__(
        self,
        name: str,
        instances: tuple[InstanceInfo, ...],
        fragments: list[bytes],
        fmt: WireFormat,
        inherited: dict[object, object] | None = None,
    ) -> None:
        self.name = name
        self.instances = instances
        self.fmt = fmt
        #: Each instance's encoding, in the order of ``instances``.
        self.fragments = fragments
        #: The segment's bytes, in order: open, instances (with separators), close.
        self.pieces = [_app_open(fmt, name), *_separated(fragments, fmt), _APP_CLOSE[fmt]]
        self.derived: dict[object, object] = {}
        self.inherited = inherited

    def chunks(self, separator: bytes) -> list[tuple[bytes, ...]]:
        """The segment's bytes after ``separator``, cut into runs of instances whose ends are
        chosen by the instances' own bytes, not their positions.

        Each run is a tuple: the bytes right before it (the previous run's last instance; empty
        for the first run), then its pieces. A run ends after an instance whose encoding
        hashes to 0 modulo :data:`CHUNK_INSTANCES` (and after :data:`MAX_CHUNK_INSTANCES` at
        most). An instance added, changed or removed then changes the run it is in, and the
        next one when it was the last of its run: the others stay equal, so whatever was
        derived from them (a compressed run) can be reused. A hash of the bytes, not of an
        id, so that a run is the same whoever encoded it.
        """
        fragments = self.fragments
        pieces = self.pieces
        # Where fragment i sits in pieces: after the opening, every other piece in JSON (with
        # commas between), every piece in XML (see _separated).
        step = 2 if self.fmt is WireFormat.JSON and len(fragments) > 1 else 1
        # hash(fragment) % CHUNK_INSTANCES == 0, as C-level iteration: a changed application of
        # a storm's delta window holds hundreds of instances, and each read after a change
        # cuts every changed application again. (bytes keep their hash: computed once.)
        ends = list(
            compress(count(), map(not_, map(mod, map(hash, fragments), repeat(CHUNK_INSTANCES))))
        )
        ends.append(len(fragments) - 1)  # the last run ends with the segment (and its close)
        runs: list[tuple[bytes, ...]] = []
        start, before, last = 0, b"", -1
        for end in ends:
            while end - last > MAX_CHUNK_INSTANCES:  # a long stretch without an end: cut it
                last += MAX_CHUNK_INSTANCES
                stop = 1 + step * last + 1
                runs.append(
                    (before, *pieces[start:stop]) if runs else (b"", separator, *pieces[:stop])
                )
                start, before = stop, fragments[last]
            if end <= last:
                continue
            stop = 1 + step * end + 1
            if end == len(fragments) - 1:
                stop = len(pieces)
            runs.append((before, *pieces[start:stop]) if runs else (b"", separator, *pieces[:stop]))
            start, before, last = stop, fragments[end], end
        if not runs:  # no instances: the opening and the close
            runs.append((b"", separator, *pieces))
        return runs


#: The mean length, in instances, of a segment's runs (:meth:`AppSegment.chunks`). Each run
#: is compressed with the instance before it as its dictionary, so even short runs compress
#: as well as the whole segment (measured: 16 full JSON instances a run, 0.96x the bytes of
#: the segment compressed whole; without the dictionary 1.8x).
CHUNK_INSTANCES: Final = 16
MAX_CHUNK_INSTANCES: Final = 256


def _separated(fragments: list[bytes], fmt: WireFormat) -> list[bytes]:
    if fmt is WireFormat.XML or len(fragments) < 2:
        return fragments
    return _interleave(fragments)


def _interleave(fragments: list[bytes]) -> list[bytes]:
    out = [b","] * (2 * len(fragments) - 1)
    out[::2] = fragments
    return out


class SegmentCache:
    """Application segments of one representation (format and compactness), by app name."""

    def __init__(self, fmt: WireFormat, compact: bool) -> None:
        self.fmt = fmt
        self.compact = compact
        self._apps: dict[str, AppSegment] = {}

    def __len__(self) -> int:
        return len(self._apps)

    def segment(self, app: Application, *, keep: bool = True) -> AppSegment:
        """``app``'s segment, reusing what is cached; ``keep=False`` leaves the cache as it was
        (for answers that may hold only part of an application, such as VIP lookups)."""
        cached = self._apps.get(app.name)
        if cached is not None and (
            cached.instances is app.instances or cached.instances == app.instances
        ):
            return cached
        built = self._build(app, cached)
        if keep:
            self._apps[app.name] = built
        return built

    def retain(self, names: Iterable[str]) -> None:
        """Forget every application not in ``names`` (those that left the answer)."""
        wanted = set(names)
        if len(wanted) < len(self._apps) or any(n not in wanted for n in self._apps):
            # A new dict, not deletions: readers on other threads never see it half-edited.
            self._apps = {n: s for n, s in self._apps.items() if n in wanted}

    def forget(self, name: str) -> None:
        self._apps.pop(name, None)

    def clear(self) -> None:
        self._apps = {}

    def _build(self, app: Application, previous: AppSegment | None) -> AppSegment:
        # Unchanged instances of a changed application keep their bytes.
        # The lookups run at C level (map), the encoder only for what is new: a changed
        # application may hold hundreds of instances of which one changed.
        instances = app.instances
        if previous is not None:
            reuse = dict(zip(map(id, previous.instances), previous.fragments, strict=True))
            found: list[bytes | None] = list(map(reuse.get, map(id, instances)))
        else:
            found = [None] * len(instances)
        encode = _INSTANCE_ENCODERS[self.fmt]
        compact = self.compact
        for position in list(compress(count(), map(is_, found, repeat(None)))):
            found[position] = encode(instances[position], compact=compact)
        fragments = cast(list[bytes], found)  # every None was just encoded
        inherited = None
        if previous is not None:
            # What was derived from the newest segment that had anything derived.
            inherited = previous.derived or previous.inherited
        return AppSegment(app.name, app.instances, fragments, self.fmt, inherited)


_INSTANCE_ENCODERS: Final = {
    WireFormat.JSON: jsoncodec.instance_bytes,
    WireFormat.XML: xmlcodec.instance_element,
}
_APP_CLOSE: Final = {WireFormat.JSON: b"]}", WireFormat.XML: b"</application>"}


def _app_open(fmt: WireFormat, name: str) -> bytes:
    if fmt is WireFormat.JSON:
        return b'{"name":' + jsoncodec.string_bytes(name) + b',"instance":['
    return b"<application><name>" + xmlcodec.text_bytes(name) + b"</name>"


def registry_pieces(apps: Applications, fmt: WireFormat) -> tuple[bytes, bytes, bytes]:
    """The prefix before the first segment, the separator between segments, the suffix."""
    if fmt is WireFormat.JSON:
        prefix = (
            b'{"applications":{"versions__delta":'
            + jsoncodec.string_bytes(apps.version)
            + b',"apps__hashcode":'
            + jsoncodec.string_bytes(apps.apps_hashcode)
            + b',"application":['
        )
        return prefix, b",", b"]}}"
    prefix = (
        xmlcodec.DECLARATION_BYTES
        + b"<applications><versions__delta>"
        + xmlcodec.text_bytes(apps.version)
        + b"</versions__delta><apps__hashcode>"
        + xmlcodec.text_bytes(apps.apps_hashcode)
        + b"</apps__hashcode>"
    )
    return prefix, b"", b"</applications>"


def application_pieces(fmt: WireFormat) -> tuple[bytes, bytes]:
    """What wraps one application's segment in the single-application answer."""
    if fmt is WireFormat.JSON:
        return b'{"application":', b"}"
    return xmlcodec.DECLARATION_BYTES, b""
