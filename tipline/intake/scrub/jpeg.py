"""JPEG: drop metadata segments losslessly, after turning the photo upright if EXIF says so.

The picture data is copied byte for byte; only the one case where EXIF orientation is not
"normal" is re-encoded, because the orientation lives in the EXIF we are about to remove and
the photo must still display the right way up.

The segments that are kept are checked the way the decoder (libjpeg, through Pillow) will
read them — frame, tables, scans — so that what we store always opens for the investigator,
without decoding the picture (a full decode would cost fifty times the whole scrub).
Damage inside the compressed picture data is not fatal to the decoder: it shows as a
smudge, and the file still opens.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from PIL import Image, JpegImagePlugin

from tipline.i18n import _l

from . import icc
from .errors import ScrubError
from .limits import MAX_JPEG_SCANS, check_pixels
from .pillow import open_image
from .result import Scrubbed

MEDIA_TYPE = "image/jpeg"
NAME = _l("JPEG image")
EXTENSION = "jpg"

_EOI = 0xD9
_SOS = 0xDA
_DHT = 0xC4
_DQT = 0xDB
_DRI = 0xDD
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7: markers without a length field
# Frames libjpeg decodes at 8 bits: baseline, extended sequential and progressive, Huffman
# coded. Lossless, hierarchical and arithmetic-coded frames are refused: cameras and
# phones do not write them, and the decoder we hand the file to cannot read them all.
_FRAMES = {0xC0, 0xC1, 0xC2}
_OTHER_FRAMES = {0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_MAX_DIMENSION = 65500  # libjpeg's JPEG_MAX_DIMENSION
_ICC = b"ICC_PROFILE\x00"
_ICC_CHUNK = 65535 - 2 - len(_ICC) - 2  # payload bytes of one APP2 segment
# Inside entropy-coded data, 0xFF is followed by 0x00 (stuffing) or a restart marker;
# anything else (except fill 0xFF) is the next marker.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# EXIF orientation -> the transpose that makes the picture upright (as ImageOps does).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_DAMAGED = _l("The JPEG image is damaged. Please send the original photo again.")
_TRUNCATED = _l("The JPEG image is incomplete (it was cut short). Please send it again.")


def _unsupported(kind: object) -> ScrubError:
    return ScrubError(
        _l(
            "This kind of JPEG image (%(kind)s) cannot be accepted. "
            "Please send it as a regular photo or as a PNG image.",
            kind=kind,
        )
    )


def scrub(data: bytes) -> Scrubbed:
    cleaned, orientation = _strip(data)
    if orientation in _UPRIGHT:
        cleaned, _ = _strip(_upright(cleaned, _UPRIGHT[orientation]))
    return Scrubbed(MEDIA_TYPE, EXTENSION, cleaned)


def strip(data: bytes) -> bytes:
    """Metadata-free copy of a JPEG, not rotated (for JPEGs inside PDFs and Office files)."""
    return _strip(data)[0]


@dataclass
class _Decoder:
    """What libjpeg will know when it reaches each scan: the frame and the tables so far."""

    components: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # id -> h, v, tq
    progressive: bool = False
    quant_tables: set[int] = field(default_factory=set)
    huffman_tables: set[tuple[int, int]] = field(default_factory=set)  # (0 DC / 1 AC, id)
    scanned: set[int] = field(default_factory=set)  # components seen in a scan so far
    scans: int = 0


def _strip(data: bytes) -> tuple[bytes, int | None]:
    """Keep only the segments needed to decode and colour the picture; return EXIF orientation.

    Dropped: APP1 (EXIF with GPS, serial numbers and maker notes; XMP), APP13 (IPTC,
    Photoshop), COM, every other APPn (MPF extra images, FlashPix, vendor data), the JFIF
    thumbnail, and anything after EOI (appended thumbnails, polyglot ZIPs).
    Kept: APP0 JFIF header, APP2 ICC profile (colours stay right; rewritten by icc.neutral),
    APP14 Adobe (colour transform).
    """
    if not data.startswith(b"\xff\xd8"):
        raise ScrubError(_DAMAGED)
    out = [b"\xff\xd8"]
    orientation: int | None = None
    icc_chunks: list[bytes] = []
    icc_slot = -1
    decoder = _Decoder()
    pos, size = 2, len(data)
    while True:
        if pos >= size:
            raise ScrubError(_TRUNCATED)
        if data[pos] != 0xFF:
            raise ScrubError(_DAMAGED)
        while pos < size and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= size:
            raise ScrubError(_TRUNCATED)
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            out.append(b"\xff\xd9")
            break
        if marker in _STANDALONE:
            out.append(bytes((0xFF, marker)))
            continue
        if marker in (0x00, 0xD8):
            raise ScrubError(_DAMAGED)
        if pos + 2 > size:
            raise ScrubError(_TRUNCATED)
        length = int.from_bytes(data[pos : pos + 2], "big")
        end = pos + length
        if length < 2:
            raise ScrubError(_DAMAGED)
        if end > size:
            raise ScrubError(_TRUNCATED)
        payload = data[pos + 2 : end]
        segment = data[pos - 2 : end]
        if marker in _FRAMES:
            _frame(decoder, marker, payload)
            out.append(segment)
        elif marker in _OTHER_FRAMES:
            raise _unsupported(_l("lossless or arithmetic-coded"))
        elif marker == _DQT:
            _quant_tables(decoder, payload)
            out.append(segment)
        elif marker == _DHT:
            _huffman_tables(decoder, payload)
            out.append(segment)
        elif marker == _DRI:
            if length != 4:
                raise ScrubError(_DAMAGED)
            out.append(segment)
        elif marker == _SOS:
            _scan(decoder, payload)
            out.append(segment)
        elif marker == 0xE0 and payload.startswith(b"JFIF\x00") and len(payload) >= 14:
            # Keep the JFIF header but not its thumbnail: a thumbnail can show what was cropped.
            out.append(_segment(0xE0, payload[:12] + b"\x00\x00"))
        elif marker == 0xE1 and payload.startswith(b"Exif\x00\x00"):
            if orientation is None:
                orientation = _orientation(payload[6:])
        elif marker == 0xE2 and payload.startswith(_ICC) and len(payload) > len(_ICC) + 2:
            if icc_slot < 0:
                icc_slot = len(out)
                out.append(b"")  # the rewritten profile goes where the first part was
            icc_chunks.append(payload[len(_ICC) :])
        elif marker == 0xEE and payload.startswith(b"Adobe") and len(payload) >= 12:
            out.append(_segment(0xEE, payload[:12]))
        # Anything else is dropped: other APPn and COM (metadata), and DAC, DNL, DHP, EXP,
        # JPGn, which only matter to the frame types refused above.
        pos = end
        if marker == _SOS:
            match = _NEXT_MARKER.search(data, pos)
            if match is None:
                raise ScrubError(_TRUNCATED)
            out.append(data[pos : match.start()])
            pos = match.start()
    if not decoder.scans:
        raise ScrubError(_l("The JPEG image is damaged: it holds no picture."))
    if icc_slot >= 0:
        out[icc_slot] = _icc_segments(icc_chunks)
    return b"".join(out), orientation


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def _frame(decoder: _Decoder, marker: int, payload: bytes) -> None:
    """SOF: one frame, 8-bit, 1/3/4 components with sampling libjpeg can upsample."""
    if decoder.components:
        raise ScrubError(_DAMAGED)  # a second frame
    if len(payload) < 6:
        raise ScrubError(_DAMAGED)
    precision, count = payload[0], payload[5]
    height = int.from_bytes(payload[1:3], "big")
    width = int.from_bytes(payload[3:5], "big")
    if precision != 8:
        raise _unsupported(_l("%(bits)s bits per colour", bits=precision))
    if height == 0:  # the height would come later in a DNL segment, which libjpeg refuses
        raise _unsupported(_l("height given after the picture"))
    if count not in (1, 3, 4) or len(payload) != 6 + 3 * count:
        raise ScrubError(_DAMAGED)
    check_pixels(width, height)
    if max(width, height) > _MAX_DIMENSION:
        raise ScrubError(_l("The image is too large: at most 65500 pixels on each side."))
    for i in range(6, len(payload), 3):
        ident, sampling, table = payload[i], payload[i + 1], payload[i + 2]
        h, v = sampling >> 4, sampling & 15
        if ident in decoder.components or not (1 <= h <= 4 and 1 <= v <= 4) or table > 3:
            raise ScrubError(_DAMAGED)
        decoder.components[ident] = (h, v, table)
    max_h = max(h for h, _, _ in decoder.components.values())
    max_v = max(v for _, v, _ in decoder.components.values())
    if any(max_h % h or max_v % v for h, v, _ in decoder.components.values()):
        raise ScrubError(_DAMAGED)  # fractional upsampling: libjpeg cannot decode it
    decoder.progressive = marker == 0xC2


def _quant_tables(decoder: _Decoder, payload: bytes) -> None:
    pos = 0
    while pos < len(payload):
        precision, table = payload[pos] >> 4, payload[pos] & 15
        end = pos + 1 + 64 * (precision + 1)
        if precision > 1 or table > 3 or end > len(payload):
            raise ScrubError(_DAMAGED)
        decoder.quant_tables.add(table)
        pos = end


def _huffman_tables(decoder: _Decoder, payload: bytes) -> None:
    """DHT, checked as libjpeg builds its decoding tables (jdmarker.c, jdhuff.c)."""
    pos = 0
    while len(payload) - pos > 16:
        index = payload[pos]
        kind, table = index >> 4, index & 15
        counts = payload[pos + 1 : pos + 17]
        total = sum(counts)
        pos += 17
        if kind > 1 or table > 3 or total > 256 or total > len(payload) - pos:
            raise ScrubError(_DAMAGED)
        symbols = payload[pos : pos + total]
        if kind == 0 and any(s > 15 for s in symbols):
            raise ScrubError(_DAMAGED)  # a DC table codes bit counts 0-15 only
        code = 0
        longest = max((n for n in range(16) if counts[n]), default=-1) + 1
        for bits in range(1, longest + 1):
            code += counts[bits - 1]
            if code >= 1 << bits:
                raise ScrubError(_DAMAGED)  # more codes than the lengths allow
            code <<= 1
        decoder.huffman_tables.add((kind, table))
        pos += total
    if pos != len(payload):
        raise ScrubError(_DAMAGED)


def _scan(decoder: _Decoder, payload: bytes) -> None:
    """SOS: components of the frame, with the tables they need already defined."""
    if not decoder.components or not payload:
        raise ScrubError(_DAMAGED)
    count = payload[0]
    if not 1 <= count <= 4 or len(payload) != 4 + 2 * count:
        raise ScrubError(_DAMAGED)
    start, end, approx = payload[1 + 2 * count], payload[2 + 2 * count], payload[3 + 2 * count]
    high, low = approx >> 4, approx & 15
    needs_dc = needs_ac = True
    if decoder.progressive:
        dc_band = start == 0
        if (dc_band and end != 0) or (not dc_band and (end < start or end > 63 or count != 1)):
            raise ScrubError(_DAMAGED)
        if (high and low != high - 1) or low > 13:
            raise ScrubError(_DAMAGED)
        needs_dc, needs_ac = dc_band and not high, not dc_band
    seen: set[int] = set()
    blocks = 0
    for i in range(1, 1 + 2 * count, 2):
        ident, tables = payload[i], payload[i + 1]
        if ident not in decoder.components or ident in seen:
            raise ScrubError(_DAMAGED)
        seen.add(ident)
        h, v, quant = decoder.components[ident]
        blocks += h * v
        if quant not in decoder.quant_tables:
            raise ScrubError(_DAMAGED)
        for needed, kind, table in ((needs_dc, 0, tables >> 4), (needs_ac, 1, tables & 15)):
            if (
                needed
                and (kind, table) not in decoder.huffman_tables
                and (
                    # libjpeg-turbo supplies the standard tables 0 and 1 to a sequential
                    # picture that has none (Motion-JPEG stills from video cameras).
                    decoder.progressive or table > 1
                )
            ):
                raise ScrubError(_DAMAGED)
    if count > 1 and blocks > 10:  # libjpeg's D_MAX_BLOCKS_IN_MCU
        raise ScrubError(_DAMAGED)
    # A sequential picture holds each component in exactly one scan (libjpeg stops at a
    # second one); a progressive one refines in many scans, but thousands of them would
    # make every viewer decode the picture thousands of times.
    if not decoder.progressive and seen & decoder.scanned:
        raise ScrubError(_DAMAGED)
    decoder.scanned |= seen
    decoder.scans += 1
    if decoder.scans > MAX_JPEG_SCANS:
        raise ScrubError(_DAMAGED)


def _icc_segments(chunks: list[bytes]) -> bytes:
    """The profile's parts put back in order, rewritten (icc.neutral), split again into APP2s.

    A profile whose parts do not add up is dropped, as Pillow and libjpeg would ignore it.
    """
    total = chunks[0][1]
    if (
        total == 0
        or len(chunks) != total
        or sorted(c[0] for c in chunks) != list(range(1, total + 1))
    ):
        return b""
    profile = icc.neutral(b"".join(c[2:] for c in sorted(chunks, key=lambda c: c[0])))
    if profile is None:
        return b""
    parts = [profile[i : i + _ICC_CHUNK] for i in range(0, len(profile), _ICC_CHUNK)]
    return b"".join(
        _segment(0xE2, _ICC + bytes((number, len(parts))) + part)
        for number, part in enumerate(parts, start=1)
    )


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


def _upright(cleaned: bytes, transpose: Image.Transpose) -> bytes:
    """Turn the (already cleaned) picture upright and re-encode it at high quality.

    The orientation was read by _orientation; Pillow never parses the tipster's EXIF.
    """
    with open_image(cleaned) as image:
        icc_profile = image.info.get("icc_profile")
        sampling = JpegImagePlugin.get_sampling(image)
        upright = image.transpose(transpose)
    return encode(upright, icc=icc_profile, subsampling=sampling)


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
