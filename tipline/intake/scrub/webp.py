"""WebP: drop EXIF and XMP (and unknown) chunks from the RIFF container, fix flags and size.

The colour profile is kept but rewritten (icc.neutral). The cleaned file is then decoded
once with Pillow (libwebp): the container rules libwebp enforces are many, WebP photos are
small, and what we store must open for the investigator.
"""

from __future__ import annotations

from tipline.i18n import _l

from . import icc
from .errors import ScrubError
from .limits import check_pixels
from .pillow import open_image
from .result import Scrubbed

MEDIA_TYPE = "image/webp"
NAME = _l("WebP image")
EXTENSION = "webp"

_KEEP = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"}
_ICC_FLAG = 0x20
_EXIF_FLAG = 0x08
_XMP_FLAG = 0x04

_DAMAGED = _l("The WebP image is damaged. Please send the original picture again.")
_TRUNCATED = _l("The WebP image is incomplete (it was cut short). Please send it again.")


def scrub(data: bytes) -> Scrubbed:
    if len(data) < 20 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ScrubError(_DAMAGED)
    end = 8 + int.from_bytes(data[4:8], "little")
    if end > len(data):
        raise ScrubError(_TRUNCATED)
    chunks: list[tuple[bytes, bytes]] = []
    pos = 12
    while pos < end:
        if pos + 8 > end:
            raise ScrubError(_DAMAGED)
        kind = data[pos : pos + 4]
        length = int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length or pos + 8 + length > end:
            raise ScrubError(_TRUNCATED)
        pos += 8 + length + (length & 1)
        if not chunks:
            _check_size(kind, body)
        if kind == b"ICCP":
            profile = icc.neutral(body)
            if profile is None:
                continue  # an unreadable profile is dropped (and its flag cleared below)
            body = profile
        if kind in _KEEP:
            chunks.append((kind, body))
    has_icc = any(kind == b"ICCP" for kind, _ in chunks)
    if chunks and chunks[0][0] == b"VP8X" and len(chunks[0][1]) >= 1:
        flags = chunks[0][1][0] & ~(_EXIF_FLAG | _XMP_FLAG | _ICC_FLAG)
        flags |= _ICC_FLAG if has_icc else 0
        chunks[0] = (b"VP8X", bytes((flags,)) + chunks[0][1][1:])
    payload = b"WEBP" + b"".join(
        kind + len(body).to_bytes(4, "little") + body + b"\x00" * (len(body) & 1)
        for kind, body in chunks
    )
    cleaned = b"RIFF" + len(payload).to_bytes(4, "little") + payload
    with open_image(cleaned):  # decodes (the first frame of an animation) or refuses
        pass
    return Scrubbed(MEDIA_TYPE, EXTENSION, cleaned)


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
        raise ScrubError(_l("The WebP image is damaged: it has no picture header."))
    check_pixels(width, height)
