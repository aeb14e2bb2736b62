"""Colour profiles (ICC): keep what defines the colours, drop what names a device or a person.

Why rewrite rather than keep or drop: phones and cameras embed profiles whose text says what
made the picture — the description ("Galaxy S23 Ultra"), device maker and model
descriptions (dmnd/dmdd), copyright, Apple's private make-and-model tag (mmod) — and whose
header names the device manufacturer, model, creating software and the profile's date.
Dropping the profile would shift the colours (a Display P3 photo turns dull in sRGB), and
keeping "well-known" profiles by their name would trust the very text we worry about. So
every embedded profile is rebuilt: only the tags that define colour (allow-list below),
copied byte for byte so colours are exactly the same; a fixed description and an empty
copyright; the identifying header fields zeroed. A profile we cannot parse is dropped
(the picture then shows in sRGB) rather than kept.
"""

from __future__ import annotations

MAX_PROFILE_BYTES = 16 * 1024 * 1024  # a JPEG can carry 255 × 64 KB; CMYK LUTs are ~1-3 MB
MAX_TAGS = 200
DESCRIPTION = "Colour profile"

_HEADER = 128
# Tags that define how colours map (ICC.1:2010 and ICC.1:2001-04): colorants, tone
# curves, white/black points, adaptation, lookup tables, gamut, preview, measurement and
# viewing conditions (numbers only), technology and image state (signatures), cicp.
# Everything else is dropped: desc/cprt (rewritten), dmnd/dmdd/vued/targ/pseq/psid/clrt/
# ncl2 (free text), calt (a date), meta/dscm/mmod/vcgt/ndin (vendor and display data).
_COLOUR_TAGS = frozenset(
    (b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC", b"kTRC", b"wtpt", b"bkpt",
     b"chad", b"chrm", b"lumi", b"meas", b"view", b"tech", b"ciis", b"cicp", b"clro",
     b"gamt", b"pre0", b"pre1", b"pre2", b"rig0", b"rig2",
     b"A2B0", b"A2B1", b"A2B2", b"B2A0", b"B2A1", b"B2A2",
     b"D2B0", b"D2B1", b"D2B2", b"D2B3", b"B2D0", b"B2D1", b"B2D2", b"B2D3")
)  # fmt: skip
# Header bytes kept as they are: version, device class, colour space, PCS, 'acsp', the
# ICC-defined flag bits, rendering intent and PCS illuminant. The rest (size, CMM,
# date, platform, vendor flag bits, manufacturer, model, attributes, creator, profile ID,
# reserved) is zeroed or recomputed.
_KEPT_HEADER = ((8, 24), (36, 40), (46, 48), (64, 80))


def _u32(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 4], "big")


def neutral(profile: bytes) -> bytes | None:
    """The profile with its colour tags only and a neutral header; None if malformed."""
    if len(profile) < _HEADER + 4 or len(profile) > MAX_PROFILE_BYTES:
        return None
    size = _u32(profile, 0)
    if profile[36:40] != b"acsp" or profile[8] not in (2, 4) or not size >= _HEADER + 4:
        return None
    if size > len(profile):
        return None
    count = _u32(profile, _HEADER)
    table_end = _HEADER + 4 + 12 * count
    if count > MAX_TAGS or table_end > size:
        return None
    kept: list[tuple[bytes, int, int]] = []
    seen: set[bytes] = set()
    for i in range(count):
        entry = _HEADER + 4 + 12 * i
        signature = profile[entry : entry + 4]
        offset, length = _u32(profile, entry + 4), _u32(profile, entry + 8)
        if offset < table_end or length < 8 or offset + length > size or signature in seen:
            return None
        seen.add(signature)
        if signature in _COLOUR_TAGS:
            kept.append((signature, offset, length))
    if not kept:
        return None  # nothing that defines colour: the profile is of no use to anyone
    version = profile[8]
    tags: list[tuple[bytes, bytes]] = [
        (b"desc", _text_tag(version, DESCRIPTION, description=True)),
        (b"cprt", _text_tag(version, "", description=False)),
    ]
    tags += [(sig, profile[offset : offset + length]) for sig, offset, length in kept]
    return _assemble(profile[:_HEADER], tags)


def _assemble(original_header: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    header = bytearray(_HEADER)
    for start, end in _KEPT_HEADER:
        header[start:end] = original_header[start:end]
    table = bytearray(len(tags).to_bytes(4, "big"))
    body = bytearray()
    placed: dict[bytes, int] = {}  # tags sharing one element (rTRC = gTRC = bTRC) stay shared
    base = _HEADER + 4 + 12 * len(tags)
    for signature, element in tags:
        offset = placed.get(element)
        if offset is None:
            offset = base + len(body)
            placed[element] = offset
            body += element + b"\x00" * (-len(element) % 4)  # elements start on 4-byte bounds
        table += signature + offset.to_bytes(4, "big") + len(element).to_bytes(4, "big")
    header[0:4] = (base + len(body)).to_bytes(4, "big")
    return bytes(header + table + body)


def _text_tag(version: int, text: str, *, description: bool) -> bytes:
    if version >= 4:  # multiLocalizedUnicodeType, one English record
        encoded = text.encode("utf-16-be")
        return (
            b"mluc\x00\x00\x00\x00"
            + (1).to_bytes(4, "big")
            + (12).to_bytes(4, "big")
            + b"enUS"
            + len(encoded).to_bytes(4, "big")
            + (28).to_bytes(4, "big")
            + encoded
        )
    ascii_text = text.encode("ascii") + b"\x00"
    if description:  # textDescriptionType: ASCII, then empty Unicode and ScriptCode parts
        return (
            b"desc\x00\x00\x00\x00"
            + len(ascii_text).to_bytes(4, "big")
            + ascii_text
            + bytes(4 + 4 + 2 + 1 + 67)
        )
    return b"text\x00\x00\x00\x00" + ascii_text
