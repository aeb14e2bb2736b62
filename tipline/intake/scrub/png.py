"""PNG: keep only the chunks needed to show the picture, copied with their CRCs.

An allow-list rather than a deny-list: besides tEXt/zTXt/iTXt/eXIf/tIME this also drops
C2PA manifests (caBX), preview images, suggested palettes (sPLT, which carry a name) and
vendor chunks we cannot vouch for. The colour profile is kept but rewritten (icc.neutral).

What is kept is checked the way decoders read it, so the stored file always opens: the
header, the palette, the lengths of the colour chunks, the animation's frame sequence, and
the picture data itself, inflated (in bounded pieces, never held whole) to check that it
holds every row with a valid filter. An ancillary chunk of the wrong size is dropped, as
decoders ignore it; a broken animation is reduced to its still picture.
"""

from __future__ import annotations

import zlib

from tipline.i18n import _l

from . import icc
from .errors import ScrubError
from .limits import check_pixels
from .result import Scrubbed

MEDIA_TYPE = "image/png"
NAME = _l("PNG image")
EXTENSION = "png"

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ANIMATION = {b"acTL", b"fcTL", b"fdAT"}
# Colour chunks and their one valid length (None: checked below against the colour type).
_COLOUR = {
    b"cHRM": 32, b"gAMA": 4, b"sRGB": 1, b"cICP": 4, b"mDCV": 24, b"cLLI": 8, b"pHYs": 9,
    b"tRNS": None, b"sBIT": None, b"bKGD": None, b"hIST": None,
}  # fmt: skip
# colour type -> (channels, allowed bit depths)
_COLOUR_TYPES = {0: (1, {1, 2, 4, 8, 16}), 2: (3, {8, 16}), 3: (1, {1, 2, 4, 8}),
                 4: (2, {8, 16}), 6: (4, {8, 16})}  # fmt: skip
# Adam7 passes: first column, first row, column step, row step.
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))  # fmt: skip
_INFLATE_PIECE = 1 << 20
_ICC_PROFILE_NAME = b"ICC profile"

_DAMAGED = _l("The PNG image is damaged. Please send the original picture again.")
_TRUNCATED = _l("The PNG image is incomplete (it was cut short). Please send it again.")


def scrub(data: bytes) -> Scrubbed:
    return Scrubbed(MEDIA_TYPE, EXTENSION, strip(data))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def strip(data: bytes) -> bytes:
    if not data.startswith(SIGNATURE):
        raise ScrubError(_DAMAGED)
    chunks: list[tuple[bytes, bytes, bytes]] = []  # kind, body, the chunk as it is written
    pos, size = len(SIGNATURE), len(data)
    while True:
        if pos + 12 > size:
            raise ScrubError(_TRUNCATED)
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if not kind.isalpha() or length > 0x7FFFFFFF:
            raise ScrubError(_DAMAGED)
        if end > size:
            raise ScrubError(_TRUNCATED)
        crc = int.from_bytes(data[end - 4 : end], "big")
        if zlib.crc32(data[pos + 4 : end - 4]) != crc:
            raise ScrubError(_l("The PNG image is damaged (checksum mismatch)."))
        if not chunks and (kind != b"IHDR" or length != 13):
            raise ScrubError(_DAMAGED)
        body = data[pos + 8 : end - 4]
        if (
            kind == b"IHDR"
            or kind == b"PLTE"
            or kind == b"IDAT"
            or kind == b"IEND"
            or kind in _COLOUR
            or kind in _ANIMATION
            or kind == b"iCCP"
        ):
            chunks.append((kind, body, data[pos:end]))
        elif kind[0] & 0x20 == 0:  # an unknown critical chunk: the picture cannot be trusted
            raise ScrubError(_l("The PNG image uses a feature we cannot check."))
        pos = end
        if kind == b"IEND":
            break
    return b"".join([SIGNATURE, *_checked(chunks)])


def _checked(chunks: list[tuple[bytes, bytes, bytes]]) -> list[bytes]:
    header = chunks[0][1]
    width, height = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    depth, colour, compression, filtering, interlace = header[8:13]
    if width > 0x7FFFFFFF or height > 0x7FFFFFFF:
        raise ScrubError(_DAMAGED)
    check_pixels(width, height)
    if colour not in _COLOUR_TYPES or depth not in _COLOUR_TYPES[colour][1]:
        raise ScrubError(_DAMAGED)
    if compression or filtering or interlace > 1:
        raise ScrubError(_DAMAGED)
    palette = [body for kind, body, _ in chunks if kind == b"PLTE"]
    if colour == 3 and (
        len(palette) != 1 or not 3 <= len(palette[0]) <= 768 or len(palette[0]) % 3
    ):
        raise ScrubError(_DAMAGED)
    entries = len(palette[0]) // 3 if palette else 0
    animated = _animation_is_sound(chunks, width, height)
    kept: list[bytes] = []
    image_data: list[bytes] = []
    runs = 0
    previous = b""
    for kind, body, raw in chunks:
        if kind == b"IDAT":
            runs += previous != b"IDAT"
            image_data.append(body)
        elif kind == b"PLTE" and colour not in (2, 3, 6):
            continue  # a palette on a grey picture is meaningless; decoders ignore it
        elif kind in _COLOUR and not _colour_chunk_fits(kind, body, colour, depth, entries):
            continue  # decoders ignore a colour chunk of the wrong size; so do we
        elif kind in _ANIMATION and not animated:
            continue
        elif kind == b"iCCP":
            rewritten = _rewritten_profile(body)
            if rewritten is None:
                continue
            raw = rewritten
        kept.append(raw)
        previous = kind
    if runs != 1:  # no picture, or picture data split around other chunks
        raise ScrubError(_DAMAGED if runs else _l("The PNG image is damaged: it holds no picture."))
    channels = _COLOUR_TYPES[colour][0]
    _check_image_data(image_data, width, height, depth * channels, interlace == 1)
    return kept


def _colour_chunk_fits(kind: bytes, body: bytes, colour: int, depth: int, entries: int) -> bool:
    expected = _COLOUR[kind]
    if expected is not None:
        return len(body) == expected
    if kind == b"tRNS":
        return {0: len(body) == 2, 2: len(body) == 6, 3: 0 < len(body) <= entries}.get(
            colour, False
        )
    if kind == b"sBIT":
        return len(body) == {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}[colour]
    if kind == b"bKGD":
        return len(body) == {0: 2, 4: 2, 2: 6, 6: 6, 3: 1}[colour]
    return colour == 3 and len(body) == 2 * entries  # hIST


def _animation_is_sound(chunks: list[tuple[bytes, bytes, bytes]], width: int, height: int) -> bool:
    """An APNG whose frames are in sequence and inside the picture; otherwise it is kept
    as its still picture (the animation chunks are dropped)."""
    animation = [(kind, body) for kind, body, _ in chunks if kind in _ANIMATION]
    if not animation:
        return False
    if animation[0][0] != b"acTL" or len(animation[0][1]) != 8:
        return False
    if sum(kind == b"acTL" for kind, _ in animation) != 1:
        return False
    frames = int.from_bytes(animation[0][1][0:4], "big")
    sequence = 0
    before_image = True
    seen_frames = 0
    for kind, body, _ in chunks:
        if kind == b"IDAT":
            before_image = False
        if kind == b"acTL" and not before_image:
            return False  # decoders learn of the animation before the picture data or never
        if kind not in (b"fcTL", b"fdAT"):
            continue
        if len(body) < 4 or int.from_bytes(body[0:4], "big") != sequence:
            return False
        sequence += 1
        if kind == b"fdAT":
            if before_image or seen_frames == 0:
                return False
            continue
        if len(body) != 26:
            return False
        fw, fh, fx, fy = (int.from_bytes(body[i : i + 4], "big") for i in (4, 8, 12, 16))
        if fw == 0 or fh == 0 or fx + fw > width or fy + fh > height:
            return False
        if before_image and (fx, fy, fw, fh) != (0, 0, width, height):
            return False  # the still picture is the first frame: it must cover the canvas
        seen_frames += 1
    return 0 < frames == seen_frames


def _rewritten_profile(body: bytes) -> bytes | None:
    """iCCP with a neutral profile name and profile (icc.neutral); None drops the chunk."""
    name_end = body.find(b"\x00")
    if not 1 <= name_end <= 79 or body[name_end + 1 : name_end + 2] != b"\x00":
        return None
    inflater = zlib.decompressobj()
    try:
        profile = inflater.decompress(body[name_end + 2 :], icc.MAX_PROFILE_BYTES + 1)
    except zlib.error:
        return None
    if not inflater.eof or len(profile) > icc.MAX_PROFILE_BYTES:
        return None
    neutral = icc.neutral(profile)
    if neutral is None:
        return None
    # The profile name is free text ("Galaxy S23 camera"); a fixed one replaces it.
    return _chunk(b"iCCP", _ICC_PROFILE_NAME + b"\x00\x00" + zlib.compress(neutral, 9))


def _rows(width: int, height: int, bits: int, interlaced: bool) -> list[tuple[int, int, int]]:
    """Where the rows of the inflated data start: (first byte, row length, row count) per pass."""
    passes = _ADAM7 if interlaced else ((0, 0, 1, 1),)
    rows, offset = [], 0
    for x0, y0, dx, dy in passes:
        columns = (width - x0 + dx - 1) // dx if width > x0 else 0
        count = (height - y0 + dy - 1) // dy if height > y0 else 0
        if columns and count:
            stride = 1 + (columns * bits + 7) // 8  # the filter byte, then the pixels
            rows.append((offset, stride, count))
            offset += stride * count
    return rows


def _check_image_data(
    pieces: list[bytes], width: int, height: int, bits: int, interlaced: bool
) -> None:
    """Inflate the picture data in bounded pieces: every row there, every filter byte
    valid, and the compressed stream complete (decoders refuse one that stops short, even
    with every row there), with nothing more than the header's size in it."""
    rows = _rows(width, height, bits, interlaced)
    needed = sum(stride * count for _, stride, count in rows)
    inflater = zlib.decompressobj()
    produced = 0
    try:
        for piece in pieces:
            pending = piece
            while pending and not inflater.eof:
                out = inflater.decompress(pending, _INFLATE_PIECE)
                if produced + len(out) > needed:
                    raise ScrubError(_DAMAGED)  # more picture than the header announces
                _check_filters(out, produced, rows)
                produced += len(out)
                pending = inflater.unconsumed_tail
            if inflater.eof:
                break
    except zlib.error as exc:
        raise ScrubError(_DAMAGED) from exc
    if produced < needed or not inflater.eof:
        raise ScrubError(_TRUNCATED)


def _check_filters(out: bytes, base: int, rows: list[tuple[int, int, int]]) -> None:
    """Each row starts with a filter type, 0 to 4; the decoder stops at any other value."""
    end = base + len(out)
    for first, stride, count in rows:
        last = first + stride * (count - 1)
        if last < base or first >= end:
            continue
        k0 = max(0, -((first - base) // stride))  # first row starting at or after base
        start = first + k0 * stride
        if start >= end:
            continue
        if max(out[start - base : min(end, last + 1) - base : stride]) > 4:
            raise ScrubError(_DAMAGED)
