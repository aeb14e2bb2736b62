"""JPEG: drop metadata segments losslessly, after turning the photo upright if EXIF says so.

The picture data is copied byte for byte; only the one case where EXIF orientation is not
"normal" is re-encoded, because the orientation lives in the EXIF we are about to remove and
the photo must still display the right way up.
"""

from __future__ import annotations

import io
import re

from PIL import Image, ImageOps, JpegImagePlugin

from .errors import ScrubError
from .limits import check_pixels
from .pillow import open_image
from .result import Scrubbed

MEDIA_TYPE = "image/jpeg"
NAME = "JPEG image"
EXTENSION = "jpg"

_EOI = 0xD9
_SOS = 0xDA
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7: markers without a length field
_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Segments the decoder needs: frames, Huffman/arithmetic/quantization tables, scans,
# restart interval, number of lines, hierarchical progression.
_DECODING = _FRAMES | {0xC4, 0xCC, _SOS, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF}
# Inside entropy-coded data, 0xFF is followed by 0x00 (stuffing) or a restart marker;
# anything else (except fill 0xFF) is the next marker.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def scrub(data: bytes) -> Scrubbed:
    cleaned, orientation = _strip(data)
    if orientation not in (None, 1):
        cleaned, _ = _strip(_upright(data))
    return Scrubbed(MEDIA_TYPE, EXTENSION, cleaned)


def strip(data: bytes) -> bytes:
    """Metadata-free copy of a JPEG, not rotated (for JPEGs inside PDFs and Office files)."""
    return _strip(data)[0]


def _strip(data: bytes) -> tuple[bytes, int | None]:
    """Keep only the segments needed to decode and colour the picture; return EXIF orientation.

    Dropped: APP1 (EXIF with GPS, serial numbers and maker notes; XMP), APP13 (IPTC,
    Photoshop), COM, every other APPn (MPF extra images, FlashPix, vendor data), the JFIF
    thumbnail, and anything after EOI (appended thumbnails, polyglot ZIPs).
    Kept: APP0 JFIF header, APP2 ICC profile (colours stay right), APP14 Adobe (colour transform).
    """
    if not data.startswith(b"\xff\xd8"):
        raise ScrubError("The JPEG image is damaged: it does not start like a JPEG.")
    out = [b"\xff\xd8"]
    orientation: int | None = None
    pos, size = 2, len(data)
    frame = scan = False
    while True:
        if pos >= size or data[pos] != 0xFF:
            raise ScrubError("The JPEG image is damaged or truncated.")
        while pos < size and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= size:
            raise ScrubError("The JPEG image is truncated.")
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            out.append(b"\xff\xd9")
            break
        if marker in _STANDALONE:
            out.append(bytes((0xFF, marker)))
            continue
        if marker in (0x00, 0xD8) or pos + 2 > size:
            raise ScrubError("The JPEG image is damaged or truncated.")
        length = int.from_bytes(data[pos : pos + 2], "big")
        end = pos + length
        if length < 2 or end > size:
            raise ScrubError("The JPEG image is damaged or truncated.")
        payload = data[pos + 2 : end]
        if marker in _FRAMES:
            if len(payload) < 6:
                raise ScrubError("The JPEG image is damaged.")
            height = int.from_bytes(payload[1:3], "big")
            width = int.from_bytes(payload[3:5], "big")
            check_pixels(width, height or 1)  # height 0 = given later by DNL
            frame = True
        if marker in _DECODING:
            out.append(data[pos - 2 : end])
        elif marker == 0xE0 and payload.startswith(b"JFIF\x00") and len(payload) >= 14:
            # Keep the JFIF header but not its thumbnail: a thumbnail can show what was cropped.
            out.append(_segment(0xE0, payload[:12] + b"\x00\x00"))
        elif marker == 0xE1 and payload.startswith(b"Exif\x00\x00"):
            orientation = _orientation(payload[6:])
        elif marker == 0xE2 and payload.startswith(b"ICC_PROFILE\x00"):
            out.append(data[pos - 2 : end])
        elif marker == 0xEE and payload.startswith(b"Adobe") and len(payload) >= 12:
            out.append(_segment(0xEE, payload[:12]))
        pos = end
        if marker == _SOS:
            match = _NEXT_MARKER.search(data, pos)
            if match is None:
                raise ScrubError("The JPEG image is truncated.")
            out.append(data[pos : match.start()])
            pos = match.start()
            scan = True
    if not (frame and scan):
        raise ScrubError("The JPEG image is damaged: it holds no picture.")
    return b"".join(out), orientation


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def _orientation(tiff: bytes) -> int | None:
    """EXIF tag 0x0112 from IFD0, read directly (no need to parse the rest of EXIF)."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    order = "little" if tiff[:2] == b"II" else "big"
    ifd = int.from_bytes(tiff[4:8], order)
    if ifd + 2 > len(tiff):
        return None
    count = int.from_bytes(tiff[ifd : ifd + 2], order)
    for i in range(count):
        entry = tiff[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
        if len(entry) < 12:
            return None
        if int.from_bytes(entry[0:2], order) == 0x0112:
            return int.from_bytes(entry[8:10], order)
    return None


def _upright(data: bytes) -> bytes:
    """Apply the EXIF orientation to the pixels and re-encode at high quality."""
    with open_image(data) as image:
        icc = image.info.get("icc_profile")
        sampling = JpegImagePlugin.get_sampling(image)
        try:
            upright = ImageOps.exif_transpose(image)
        except (OSError, ValueError, SyntaxError) as exc:
            raise ScrubError("The JPEG image is damaged and cannot be turned upright.") from exc
        return encode(upright, icc=icc, subsampling=sampling)


def encode(image: Image.Image, *, icc: bytes | None, subsampling: int = -1) -> bytes:
    """High-quality JPEG of a decoded image (only colour profile passed on; stripped after)."""
    options: dict[str, object] = {"quality": 95}
    if icc:
        options["icc_profile"] = icc
    if subsampling != -1:
        options["subsampling"] = subsampling
    if image.mode not in ("L", "RGB", "CMYK"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()
