"""PNG: keep only the chunks needed to show the picture, copied with their CRCs.

An allow-list rather than a deny-list: besides tEXt/zTXt/iTXt/eXIf/tIME this also drops
C2PA manifests (caBX), preview images and vendor chunks we cannot vouch for.
"""

from __future__ import annotations

import zlib

from .errors import ScrubError
from .limits import check_pixels
from .result import Scrubbed

MEDIA_TYPE = "image/png"
NAME = "PNG image"
EXTENSION = "png"

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_KEEP = {
    # critical
    b"IHDR", b"PLTE", b"IDAT", b"IEND",
    # colour and display
    b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCV", b"cLLI",
    b"bKGD", b"hIST", b"pHYs", b"sPLT",
    # animation (APNG)
    b"acTL", b"fcTL", b"fdAT",
}  # fmt: skip


def scrub(data: bytes) -> Scrubbed:
    return Scrubbed(MEDIA_TYPE, EXTENSION, strip(data))


def strip(data: bytes) -> bytes:
    if not data.startswith(SIGNATURE):
        raise ScrubError("The PNG image is damaged: it does not start like a PNG.")
    out = [SIGNATURE]
    pos, size = len(SIGNATURE), len(data)
    seen_data = False
    while True:
        if pos + 12 > size:
            raise ScrubError("The PNG image is truncated.")
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > size or not kind.isalpha():
            raise ScrubError("The PNG image is damaged or truncated.")
        crc = int.from_bytes(data[end - 4 : end], "big")
        if zlib.crc32(data[pos + 4 : end - 4]) != crc:
            raise ScrubError("The PNG image is damaged (checksum mismatch).")
        if pos == len(SIGNATURE):
            if kind != b"IHDR" or length != 13:
                raise ScrubError("The PNG image is damaged: it has no header.")
            width = int.from_bytes(data[pos + 8 : pos + 12], "big")
            height = int.from_bytes(data[pos + 12 : pos + 16], "big")
            check_pixels(width, height)
        if kind in _KEEP:
            out.append(data[pos:end])
        elif kind[0] & 0x20 == 0:  # an unknown critical chunk: the picture cannot be trusted
            raise ScrubError("The PNG image uses an unsupported feature.")
        seen_data = seen_data or kind == b"IDAT"
        pos = end
        if kind == b"IEND":
            break
    if not seen_data:
        raise ScrubError("The PNG image is damaged: it holds no picture.")
    return b"".join(out)
