"""One gzip stream stitched from separately compressed pieces, so unchanged pieces are not
compressed again.

Each piece (an application's segment of a registry payload) is compressed on its own as raw
deflate with a fresh compressor and ended with a sync flush: the output stops on a byte
boundary without a final block, and refers to nothing before it. Deflate streams made that way
concatenate into one valid deflate stream (the technique of pigz); an empty final block closes
it. The result is a single gzip member, which every client reads: unlike concatenated gzip
members, which some decoders (browsers' streams, Rust's ``GzDecoder``, several HTTP clients)
stop reading after the first.

The gzip trailer needs the CRC-32 of the whole body. Re-reading a 90 MB body to compute it
would cost nearly as much as compressing it, so each piece keeps its own CRC and length, and
the body's CRC is combined from them (zlib's ``crc32_combine``, which Python does not expose:
re-done here in GF(2) polynomial arithmetic). A combination costs one 32-step multiplication
per piece, given each piece's precomputed ``x^(8·length) mod P``.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = ["Deflated", "crc32_combine", "deflate", "gzip_stream", "joined"]

# Level 3, as for whole bodies (see negotiation.gzip_bytes): rebuilding is what readers wait on.
LEVEL: Final = 3

# The CRC-32 polynomial, bit-reversed as zlib computes it.
_POLY: Final = 0xEDB88320
_X0: Final = 1 << 31  # the polynomial 1 (x^0) in reflected form

# mtime 0 (the output depends on the input alone, so an ETag names one byte sequence),
# no flags, unknown OS.
_HEADER: Final = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
# An empty final block of fixed Huffman codes: what zlib writes to finish an empty stream.
_FINAL_BLOCK: Final = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS).flush()


def _times_x(b: int) -> int:
    return (b >> 1) ^ _POLY if b & 1 else b >> 1


def _reduction_table() -> tuple[int, ...]:
    """``n * x^4 mod P`` for each value ``n`` of the low four bits (x^28..x^31)."""
    table = []
    for n in range(16):
        shifted = n
        for _ in range(4):
            shifted = _times_x(shifted)
        table.append(shifted)
    return tuple(table)


_TIMES_X4: Final = _reduction_table()


def _multiply(a: int, b: int) -> int:
    """``a * b mod P`` for reflected polynomials (zlib's ``multmodp``), four bits of ``a`` at a
    time: stitching a storm's delta combines hundreds of CRCs per read, and the bit-by-bit
    loop zlib's ``multmodp`` runs was a third of the read."""
    # b times each polynomial of degree < 4 (a nibble of a: its bit 3 is the lowest power).
    b1 = _times_x(b)
    b2 = _times_x(b1)
    b3 = _times_x(b2)
    t3 = b2 ^ b3
    t5 = b1 ^ b3
    t6 = b1 ^ b2
    t7 = t6 ^ b3
    times = (
        0,
        b3,
        b2,
        t3,
        b1,
        t5,
        t6,
        t7,
        b,
        b ^ b3,
        b ^ b2,
        b ^ t3,
        b ^ b1,
        b ^ t5,
        b ^ t6,
        b ^ t7,
    )
    r = _TIMES_X4
    # Horner's rule from the highest powers (a's low nibble) down: v = v * x^4 + nibble * b.
    v = times[a & 15]
    v = (v >> 4) ^ r[v & 15] ^ times[(a >> 4) & 15]
    v = (v >> 4) ^ r[v & 15] ^ times[(a >> 8) & 15]
    v = (v >> 4) ^ r[v & 15] ^ times[(a >> 12) & 15]
    v = (v >> 4) ^ r[v & 15] ^ times[(a >> 16) & 15]
    v = (v >> 4) ^ r[v & 15] ^ times[(a >> 20) & 15]
    v = (v >> 4) ^ r[v & 15] ^ times[(a >> 24) & 15]
    return (v >> 4) ^ r[v & 15] ^ times[(a >> 28) & 15]


def _powers() -> list[int]:
    """``x^(2^k) mod P`` for k < 32; the sequence repeats with period 32 past that."""
    table = [_X0 >> 1]  # x^1
    for _ in range(31):
        table.append(_multiply(table[-1], table[-1]))
    return table


_X2N: Final = _powers()


def _shift_by_bits(length: int) -> int:
    product = _X0
    k = 3  # 8 = 2^3 bits per byte
    n = length
    while n:
        if n & 1:
            product = _multiply(_X2N[k & 31], product)
        n >>= 1
        k += 1
    return product


@functools.cache
def _shift_tables() -> tuple[tuple[int, ...], ...]:
    """``x^(8·b·256^j) mod P`` for every byte ``b`` and byte position ``j`` < 4: a shift is
    then at most four multiplications instead of one per set bit of the length. Built on first
    use (about a thousand multiplications), not at import."""
    return tuple(tuple(_shift_by_bits(b << (8 * j)) for b in range(256)) for j in range(4))


def shift_of(length: int) -> int:
    """``x^(8·length) mod P``: the factor that moves a CRC past ``length`` zero bytes."""
    if length >> 32:
        return _shift_by_bits(length)
    tables = _shift_tables()
    product = _X0
    j = 0
    while length:
        byte = length & 0xFF
        if byte:
            product = _multiply(tables[j][byte], product)
        length >>= 8
        j += 1
    return product


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of ``a + b`` from ``crc32(a)``, ``crc32(b)`` and ``len(b)``."""
    return _multiply(shift_of(length2), crc1) ^ crc2


@dataclass(frozen=True, slots=True)
class Deflated:
    """A piece compressed on its own: raw deflate ending on a sync flush, with its CRC."""

    data: bytes
    crc: int
    length: int
    shift: int  # x^(8·length) mod P, kept so that combining costs one multiplication


def deflate(pieces: Iterable[bytes], preceded_by: bytes = b"") -> Deflated:
    """``b"".join(pieces)`` compressed as one stitchable piece.

    ``preceded_by``: bytes that come right before the piece in every body it goes into. They
    are the compressor's preset dictionary, so the piece refers back into them as a single
    stream would (a decoder's window holds what it already put out): a piece of a few
    instances then compresses as well as a whole body, where alone it would not.
    """
    data = b"".join(pieces)  # one call into zlib per segment, not one per instance
    if preceded_by:
        compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, zdict=preceded_by)
    else:
        compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return Deflated(body, zlib.crc32(data), len(data), shift_of(len(data)))


def _stitched(parts: Iterable[Deflated]) -> tuple[list[bytes], int, int]:
    """The compressed bytes of ``parts`` in order, their combined CRC and total length."""
    data: list[bytes] = []
    crc = 0
    length = 0
    for part in parts:
        data.append(part.data)
        crc = _multiply(part.shift, crc) ^ part.crc
        length += part.length
    return data, crc, length


def joined(parts: Iterable[Deflated]) -> Deflated:
    """``parts`` in order as one piece: stitched as :func:`gzip_stream` stitches them, so a
    body of many pieces costs one combination per joined piece, not per piece."""
    data, crc, length = _stitched(parts)
    return Deflated(b"".join(data), crc, length, shift_of(length))


def gzip_stream(parts: Iterable[Deflated]) -> bytes:
    """One gzip member holding ``parts`` in order."""
    data, crc, length = _stitched(parts)
    trailer = struct.pack("<II", crc, length & 0xFFFFFFFF)
    return b"".join([_HEADER, *data, _FINAL_BLOCK, trailer])
