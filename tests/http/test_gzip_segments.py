"""Stitched gzip streams: the CRC combination, and real decoders reading the stream as one body.

The stitched stream is a single gzip member, so decoders that stop after the first member
(zlib's own ``decompressobj``, browser streams) read all of it; Python's gzip module, urllib3
(py_eureka_client, our own client) and node's zlib (eureka-js-client) are checked directly.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from urllib3.response import GzipDecoder

from eureka_embed.http import gzip_segments
from eureka_embed.http.gzip_segments import (
    Deflated,
    _multiply,
    _powers,
    _reduction_table,
    _shift_by_bits,
    crc32_combine,
    deflate,
    gzip_stream,
    joined,
    shift_of,
)

pieces = st.lists(st.lists(st.binary(max_size=300), max_size=4), max_size=6)


@given(st.binary(max_size=500), st.binary(max_size=500))
def test_combined_crc_is_the_crc_of_the_concatenation(a: bytes, b: bytes) -> None:
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def _multiply_bit_by_bit(a: int, b: int) -> int:
    """Reflected a * b mod the CRC-32 polynomial, from its definition: b times x^k summed over
    every power x^k in a (bit 31 - k)."""
    product = 0
    for k in range(32):
        if a >> (31 - k) & 1:
            product ^= b
        b = (b >> 1) ^ 0xEDB88320 if b & 1 else b >> 1
    return product


words = st.integers(0, 2**32 - 1) | st.sampled_from([0, 1, 2**31, 2**32 - 1, 0xEDB88320])


@given(words, words)
def test_the_nibble_multiply_is_the_polynomial_product(a: int, b: int) -> None:
    assert _multiply(a, b) == _multiply_bit_by_bit(a, b)


@given(pieces)
def test_a_stitched_stream_is_one_member_holding_every_piece(parts: list[list[bytes]]) -> None:
    whole = b"".join(b"".join(part) for part in parts)
    stream = gzip_stream(deflate(part) for part in parts)
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    assert inflater.decompress(stream) == whole
    assert inflater.eof and not inflater.unused_data
    assert gzip.decompress(stream) == whole
    decoder = GzipDecoder()
    assert decoder.decompress(stream) + decoder.flush() == whole


def _preceded(parts: list[list[bytes]], reach: list[int]) -> list[Deflated]:
    """Each part compressed with up to ``reach`` bytes of what precedes it as its dictionary."""
    out: list[Deflated] = []
    before = b""
    for part, back in zip(parts, reach, strict=True):
        out.append(deflate(part, preceded_by=before[-back:] if back else b""))
        before += b"".join(part)
    return out


@given(
    pieces.flatmap(
        lambda p: st.tuples(
            st.just(p), st.lists(st.integers(0, 2000), min_size=len(p), max_size=len(p))
        )
    )
)
def test_pieces_compressed_against_what_precedes_them_read_as_one_stream(
    drawn: tuple[list[list[bytes]], list[int]],
) -> None:
    parts, reach = drawn
    whole = b"".join(b"".join(part) for part in parts)
    stream = gzip_stream(_preceded(parts, reach))
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    assert inflater.decompress(stream) == whole
    assert inflater.eof and not inflater.unused_data
    decoder = GzipDecoder()
    assert decoder.decompress(stream) + decoder.flush() == whole


def test_a_piece_refers_back_into_what_precedes_it() -> None:
    record = b'{"instanceId":"host1:orders:8080","status":"UP","port":{"$":8080}}'
    alone = deflate([record.replace(b"host1", b"host2")])
    preceded = deflate([record.replace(b"host1", b"host2")], preceded_by=record)
    # What a short run of instances gains from the instance before it.
    assert len(preceded.data) < len(alone.data) / 2
    assert gzip.decompress(gzip_stream([deflate([record]), preceded])) == record + record.replace(
        b"host1", b"host2"
    )


@given(pieces, st.integers(0, 6))
def test_joined_pieces_stitch_as_the_pieces_would(parts: list[list[bytes]], at: int) -> None:
    deflated = [deflate(part) for part in parts]
    at = min(at, len(deflated))
    stream = gzip_stream([*deflated[:at], joined(deflated[at:])])
    assert stream == gzip_stream(deflated)


def test_a_corrupted_piece_fails_the_checksum() -> None:
    good = deflate([b"hello " * 50])
    stream = bytearray(gzip_stream([good, deflate([b"world"])]))
    stream[-5] ^= 0xFF  # inside the CRC-32 of the trailer
    with pytest.raises(gzip.BadGzipFile):
        gzip.decompress(bytes(stream))


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_zlib_reads_a_stitched_stream() -> None:
    parts = [[b'{"a":['], [b"1," * 1000, b"2"], [b",3," * 500], [b"]}"]]
    stream = gzip_stream(_preceded(parts, [0, 0, 2001, 3]))
    script = (
        "const z=require('zlib');let c=[];process.stdin.on('data',d=>c.push(d));"
        "process.stdin.on('end',()=>process.stdout.write(z.gunzipSync(Buffer.concat(c))))"
    )
    done = subprocess.run(
        ["node", "-e", script], input=stream, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"".join(b"".join(part) for part in parts)


@given(st.integers(0, 2**40))
def test_the_shift_of_any_length_is_the_bit_by_bit_one(length: int) -> None:
    # Bodies past 4 GiB take the bit-by-bit path; the byte tables cover the rest.
    assert shift_of(length) == _shift_by_bits(length)


@pytest.mark.parametrize("length", [2**32 - 1, 2**32, 2**32 + 5, 2**33 + 1, 2**39])
def test_the_shift_past_four_gib_is_the_bit_by_bit_one(length: int) -> None:
    assert shift_of(length) == _shift_by_bits(length)


def test_a_piece_with_nothing_before_it_refers_to_nothing_before_it() -> None:
    # Without preceded_by the compressor has no dictionary: the stream's first piece decodes.
    for data in (b"XXXX" * 20, b"\x00" * 100, b"abc"):
        assert gzip.decompress(gzip_stream([deflate([data])])) == data


# -- the tables built at import, against the product from its definition (above)


def _x_to_the(k: int) -> int:
    """x^k in zlib's reflected form (x^0 in bit 31)."""
    return 1 << (31 - k)


def test_the_reduction_table_is_each_nibble_times_x4() -> None:
    # A nibble n as the low four bits of a word is x^31..x^28; moved up by x^4 it wraps round P.
    expected = tuple(_multiply_bit_by_bit(_x_to_the(4), n) for n in range(16))
    assert gzip_segments._TIMES_X4 == _reduction_table() == expected


def test_the_power_table_is_x_to_each_power_of_two() -> None:
    expected: list[int] = []
    power = _x_to_the(1)
    for _ in range(32):  # x^(2^n), each the square of the one before
        expected.append(power)
        power = _multiply_bit_by_bit(power, power)
    assert gzip_segments._X2N == _powers() == expected
