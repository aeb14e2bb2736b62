"""WebP: drop EXIF and XMP (and unknown) chunks from the RIFF container, fix flags and size."""

from __future__ import annotations

from .errors import ScrubError
from .limits import check_pixels
from .result import Scrubbed

MEDIA_TYPE = "image/webp"
NAME = "WebP image"
EXTENSION = "webp"

_KEEP = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"}
_EXIF_FLAG = 0x08
_XMP_FLAG = 0x04


def scrub(data: bytes) -> Scrubbed:
    if len(data) < 20 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ScrubError("The WebP image is damaged.")
    end = 8 + int.from_bytes(data[4:8], "little")
    if end > len(data):
        raise ScrubError("The WebP image is truncated.")
    chunks: list[bytes] = []
    pos = 12
    while pos < end:
        if pos + 8 > end:
            raise ScrubError("The WebP image is damaged.")
        kind = data[pos : pos + 4]
        length = int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise ScrubError("The WebP image is truncated.")
        pos += 8 + length + (length & 1)
        if not chunks:
            _check_size(kind, body)
        if kind == b"VP8X":
            body = bytes((body[0] & ~(_EXIF_FLAG | _XMP_FLAG),)) + body[1:]
        if kind in _KEEP:
            chunks.append(kind + length.to_bytes(4, "little") + body + b"\x00" * (length & 1))
    payload = b"WEBP" + b"".join(chunks)
    return Scrubbed(MEDIA_TYPE, EXTENSION, b"RIFF" + len(payload).to_bytes(4, "little") + payload)


def _check_size(kind: bytes, body: bytes) -> None:
    if kind == b"VP8X" and len(body) >= 10:
        width = 1 + int.from_bytes(body[4:7], "little")
        height = 1 + int.from_bytes(body[7:10], "little")
    elif kind == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        width = int.from_bytes(body[6:8], "little") & 0x3FFF
        height = int.from_bytes(body[8:10], "little") & 0x3FFF
    elif kind == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    else:
        raise ScrubError("The WebP image is damaged: it has no picture header.")
    check_pixels(width, height)
