"""Chunked streams: round-trips at chunk boundaries, every kind of tampering, memory.

The tests cut streams apart using the layout documented in ``tipline.crypto.streams``:
magic(4) | sealed-key length(2) | sealed key | prefix(7) | chunk size(4) | chunks, each
chunk being ciphertext length(4) | ciphertext.
"""

from __future__ import annotations

import dataclasses
import io
import math
import random
import tracemalloc
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tipline.crypto import Context, PrivateKey, SealError
from tipline.crypto.streams import DEFAULT_CHUNK, open_stream, seal_stream

SETTINGS = settings(max_examples=30, deadline=None, database=None)
CHUNK = 16
TAG = 16
CONTEXT = Context("tip-attachment", "T-42", "att-1")


def seal_bytes(
    key: PrivateKey, payload: bytes, context: Context = CONTEXT, chunk: int = CHUNK
) -> bytes:
    out = io.BytesIO()
    assert seal_stream(key.public_key, io.BytesIO(payload), out, context, chunk) == len(payload)
    return out.getvalue()


def open_bytes(key: PrivateKey, blob: bytes, context: Context = CONTEXT) -> bytes:
    out = io.BytesIO()
    total = open_stream(key, io.BytesIO(blob), out, context)
    assert total == len(out.getvalue())
    return out.getvalue()


def split_stream(blob: bytes) -> tuple[bytes, list[bytes]]:
    """Header (through the chunk size) and the framed chunks, each with its length prefix."""
    key_length = int.from_bytes(blob[4:6], "big")
    position = 6 + key_length + 7 + 4
    header, frames = blob[:position], []
    while position < len(blob):
        size = int.from_bytes(blob[position : position + 4], "big")
        frames.append(blob[position : position + 4 + size])
        position += 4 + size
    assert position == len(blob)
    return header, frames


def pattern(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


# --- round-trips ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK, 3 * CHUNK + 5]
)
def test_round_trip_around_chunk_boundaries(key: PrivateKey, size: int) -> None:
    payload = pattern(size, size)
    blob = seal_bytes(key, payload)
    assert open_bytes(key, blob) == payload
    header, frames = split_stream(blob)
    assert header[:4] == b"TLS2"
    assert int.from_bytes(header[-4:], "big") == CHUNK
    assert len(frames) == max(1, math.ceil(size / CHUNK))
    assert sum(len(frame) - 4 - TAG for frame in frames) == size


@SETTINGS
@given(payload=st.binary(max_size=300), chunk=st.integers(min_value=1, max_value=64))
def test_round_trip_any_payload_any_chunk_size(key: PrivateKey, payload: bytes, chunk: int) -> None:
    assert open_bytes(key, seal_bytes(key, payload, chunk=chunk)) == payload


@pytest.mark.parametrize("size", [3 * DEFAULT_CHUNK, 1024 * 1024 + 7])
def test_round_trip_large_with_default_chunk(key: PrivateKey, size: int) -> None:
    payload = pattern(size, 7)
    out = io.BytesIO()
    assert seal_stream(key.public_key, io.BytesIO(payload), out, CONTEXT) == size
    blob = out.getvalue()
    assert payload[:64] not in blob
    assert open_bytes(key, blob) == payload
    assert len(split_stream(blob)[1]) == math.ceil(size / DEFAULT_CHUNK)


class TrickleReader(io.RawIOBase):
    """Returns at most a few bytes per read, like a pipe or a socket."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._step, self._pos = data, step, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self._step if size < 0 else min(size, self._step)
        piece = self._data[self._pos : self._pos + size]
        self._pos += len(piece)
        return piece


@pytest.mark.parametrize("step", [1, 3, 7])
def test_short_reads_on_both_sides(key: PrivateKey, step: int) -> None:
    payload = pattern(5 * CHUNK + 3, step)
    out = io.BytesIO()
    seal_stream(key.public_key, TrickleReader(payload, step), out, CONTEXT, CHUNK)
    blob = out.getvalue()
    opened = io.BytesIO()
    assert open_stream(key, TrickleReader(blob, step), opened, CONTEXT) == len(payload)
    assert opened.getvalue() == payload


@pytest.mark.parametrize("chunk", [0, -1, 16 * 1024 * 1024 + 1])
def test_chunk_size_out_of_range_is_refused(key: PrivateKey, chunk: int) -> None:
    with pytest.raises(ValueError):
        seal_stream(key.public_key, io.BytesIO(b"x"), io.BytesIO(), CONTEXT, chunk)


def test_sealing_is_randomised(key: PrivateKey) -> None:
    payload = b"A" * (3 * CHUNK)
    first, second = seal_bytes(key, payload), seal_bytes(key, payload)
    assert split_stream(first)[1] != split_stream(second)[1]
    # Identical plaintext chunks within one stream encrypt differently (distinct nonces).
    frames = split_stream(first)[1]
    assert len(set(frames)) == len(frames)


# --- tampering -----------------------------------------------------------------------


def test_every_flipped_byte_is_refused(key: PrivateKey) -> None:
    # Exhaustive over a small stream: header, sealed key, nonce prefix, chunk size,
    # length prefixes and every ciphertext byte.
    blob = seal_bytes(key, pattern(2 * CHUNK + 5))
    opened_anyway = []
    for index in range(len(blob)):
        tampered = bytearray(blob)
        tampered[index] ^= 0xFF
        try:
            open_bytes(key, bytes(tampered))
        except SealError:
            continue
        opened_anyway.append(index)
    header_length = len(split_stream(blob)[0])
    assert opened_anyway == [], (
        f"opened after tampering at {opened_anyway} (header is {header_length} bytes)"
    )


@SETTINGS
@given(payload=st.binary(max_size=80), data=st.data())
def test_any_flipped_bit_is_refused(key: PrivateKey, payload: bytes, data: st.DataObject) -> None:
    blob = seal_bytes(key, payload)
    index = data.draw(st.integers(min_value=0, max_value=len(blob) - 1), label="index")
    bit = data.draw(st.integers(min_value=0, max_value=7), label="bit")
    tampered = bytearray(blob)
    tampered[index] ^= 1 << bit
    with pytest.raises(SealError):
        open_bytes(key, bytes(tampered))


@pytest.mark.parametrize("size", [0, CHUNK, 3 * CHUNK + 1])
def test_truncation_at_any_point_is_refused(key: PrivateKey, size: int) -> None:
    blob = seal_bytes(key, pattern(size))
    opened_anyway = []
    for length in range(len(blob)):
        try:
            open_bytes(key, blob[:length])
        except SealError:
            continue
        opened_anyway.append(length)
    assert opened_anyway == []


def test_reordering_any_two_chunks_is_refused(key: PrivateKey) -> None:
    # Identical plaintext in every chunk: only the nonce tells the chunks apart.
    blob = seal_bytes(key, b"A" * (4 * CHUNK))
    header, frames = split_stream(blob)
    assert len(frames) == 4
    for i in range(len(frames)):
        for j in range(i + 1, len(frames)):
            swapped = list(frames)
            swapped[i], swapped[j] = swapped[j], swapped[i]
            with pytest.raises(SealError):
                open_bytes(key, header + b"".join(swapped))


@pytest.mark.parametrize("size", [CHUNK, 3 * CHUNK, 3 * CHUNK + 5])
def test_dropping_the_last_chunk_is_refused(key: PrivateKey, size: int) -> None:
    header, frames = split_stream(seal_bytes(key, pattern(size)))
    with pytest.raises(SealError):
        open_bytes(key, header + b"".join(frames[:-1]))


def test_dropping_or_duplicating_any_chunk_is_refused(key: PrivateKey) -> None:
    header, frames = split_stream(seal_bytes(key, pattern(3 * CHUNK + 5)))
    for i in range(len(frames)):
        with pytest.raises(SealError):
            open_bytes(key, header + b"".join(frames[:i] + frames[i + 1 :]))
        with pytest.raises(SealError):
            open_bytes(key, header + b"".join(frames[: i + 1] + frames[i:]))


@SETTINGS
@given(payload=st.binary(max_size=80), extra=st.binary(min_size=1, max_size=40))
def test_appended_data_is_refused(key: PrivateKey, payload: bytes, extra: bytes) -> None:
    blob = seal_bytes(key, payload)
    with pytest.raises(SealError):
        open_bytes(key, blob + extra)


def test_appending_a_replayed_chunk_is_refused(key: PrivateKey) -> None:
    blob = seal_bytes(key, pattern(2 * CHUNK + 3))
    _, frames = split_stream(blob)
    for frame in frames:
        with pytest.raises(SealError):
            open_bytes(key, blob + frame)


def test_chunks_cannot_be_spliced_between_streams(key: PrivateKey) -> None:
    payload = pattern(3 * CHUNK)
    header_a, frames_a = split_stream(seal_bytes(key, payload))
    header_b, frames_b = split_stream(seal_bytes(key, payload))
    with pytest.raises(SealError):
        open_bytes(key, header_a + b"".join(frames_b))
    mixed = [frames_a[0], frames_b[1], frames_a[2]]
    with pytest.raises(SealError):
        open_bytes(key, header_a + b"".join(mixed))


# --- wrong key, wrong context --------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [{"kind": "tip-body"}, {"owner": "T-43"}, {"item": "att-2"}, {"version": 2}, {"item": ""}],
)
def test_wrong_context_is_refused(key: PrivateKey, changes: dict[str, object]) -> None:
    blob = seal_bytes(key, pattern(2 * CHUNK + 1))
    with pytest.raises(SealError):
        open_bytes(key, blob, dataclasses.replace(CONTEXT, **changes))
    assert open_bytes(key, blob) == pattern(2 * CHUNK + 1)


def test_wrong_key_is_refused(key: PrivateKey, other_key: PrivateKey) -> None:
    blob = seal_bytes(key, pattern(CHUNK + 1))
    with pytest.raises(SealError):
        open_bytes(other_key, blob)


@pytest.mark.parametrize(
    "blob", [b"", b"TLS", b"XXXX\x00\x00", b"TLS2\x00\x00", b"TLS2\xff\xff" + bytes(100)]
)
def test_garbage_is_refused(key: PrivateKey, blob: bytes) -> None:
    with pytest.raises(SealError):
        open_bytes(key, blob)


# --- memory --------------------------------------------------------------------------


class GeneratedFile(io.RawIOBase):
    """A readable file whose content comes from a generator, never held in full."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._buffer = bytearray()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._buffer += piece
        if size < 0:
            size = len(self._buffer)
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out


class DiscardingSink(io.RawIOBase):
    def __init__(self) -> None:
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.written += len(data)
        return len(data)


def test_sealing_64_mib_uses_constant_memory(key: PrivateKey) -> None:
    size = 64 * 1024 * 1024
    piece = 8191  # not a divisor of the chunk size, so reads straddle pieces

    def pieces() -> Iterator[bytes]:
        remaining = size
        counter = 0
        while remaining:
            n = min(piece, remaining)
            yield bytes([counter % 251]) * n
            remaining -= n
            counter += 1

    source, sink = GeneratedFile(pieces()), DiscardingSink()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        total = seal_stream(key.public_key, source, sink, CONTEXT)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == size
    chunks = size // DEFAULT_CHUNK
    sealed_key = 1120 + 32 + TAG
    assert sink.written == 4 + 2 + sealed_key + 7 + 4 + chunks * (4 + TAG) + size
    growth = peak - baseline
    assert growth < 8 * DEFAULT_CHUNK, f"peak grew by {growth} bytes while sealing {size}"


def test_a_header_claiming_a_huge_chunk_is_refused_before_reading(key: PrivateKey) -> None:
    blob = seal_bytes(key, pattern(CHUNK * 2))
    header, frames = split_stream(blob)
    forged = header[:-4] + (2**32 - 1).to_bytes(4, "big") + b"".join(frames)
    with pytest.raises(SealError, match="corrupt stream header"):
        open_bytes(key, forged)


def test_a_short_chunk_before_the_end_is_refused(key: PrivateKey) -> None:
    # Re-sealing with a smaller chunk size and swapping the header must not open.
    blob = seal_bytes(key, pattern(CHUNK * 3))
    header, frames = split_stream(blob)
    forged = header[:-4] + (CHUNK * 2).to_bytes(4, "big") + b"".join(frames)
    with pytest.raises(SealError):
        open_bytes(key, forged)
