"""Fuzzing every scrubber with damaged versions of real files.

Property, for each scrubber and for the type detector: whatever bytes arrive, scrubbing
either returns a result or refuses with one of our user-visible errors (ScrubError,
UnsupportedType, TooLarge) — never another exception, never a hang. A returned image
decodes with Pillow, and a returned file scrubbed again comes back the same (or, for PDFs
whose /ID is fresh on every save, still clean).

Inputs are mutations of real tagged samples (byte flips, truncation, duplicated or
deleted ranges, inserted junk, random bytes behind the format's magic), plus
structure-aware ones: PNG chunks with their CRC fixed, Office parts damaged inside a valid
zip. The runs are derandomized and sized so all targets together stay well under a minute;
``TIPLINE_FUZZ_SCALE=20 pytest tests/intake/scrub/test_fuzz.py`` searches longer (and
randomly) before a release or after touching a parser.
"""

from __future__ import annotations

import functools
import io
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pikepdf
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.intake.scrub.samples import (
    docx_parts,
    picture,
    pptx_parts,
    tagged_heic,
    tagged_jpeg,
    tagged_pdf,
    tagged_png,
    tagged_webp,
    zip_bytes,
)
from tests.support import scale
from tipline.errors import TooLarge
from tipline.intake.scrub import (
    ScrubError,
    UnsupportedType,
    detect,
    heif,
    jpeg,
    office,
    pdf,
    png,
    text,
    webp,
)
from tipline.intake.scrub import scrub as scrub_any
from tipline.intake.scrub.result import Scrubbed

pytestmark = [pytest.mark.embedded, pytest.mark.timeout(2400 if scale.LONG else 240)]

# pytest --long runs ten times the examples; TIPLINE_FUZZ_SCALE sets any factor.
SCALE = int(os.environ.get("TIPLINE_FUZZ_SCALE", "10" if scale.LONG else "1"))
REFUSALS = (ScrubError, UnsupportedType, TooLarge)


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples * SCALE,
        deadline=timedelta(seconds=5),  # one input, however damaged, is bounded work
        derandomize=SCALE == 1,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ---------------------------------------------------------------------------------------
# Seeds: real files, several variants per format so the mutations reach different paths.


def _saved(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@functools.cache
def seeds() -> dict[str, list[bytes]]:
    """Built once per run (exiftool writes the tags), outside the examples' repr."""
    with tempfile.TemporaryDirectory(prefix="fuzz-seeds-") as tmp:
        folder = Path(tmp)
        rgba = picture().convert("RGBA")
        rgba.putalpha(128)
        photo = tagged_jpeg(folder).read_bytes()
        turned = tagged_jpeg(folder, orientation=6).read_bytes()
        frames = [picture(), picture().rotate(180)]
        return {
            "jpeg": [
                photo,
                turned,
                _saved(picture(), "JPEG", progressive=True, quality=80),
                _saved(picture("L"), "JPEG"),
                _saved(picture().convert("CMYK"), "JPEG"),
                _saved(picture(), "JPEG", restart_marker_blocks=2, subsampling=0),
            ],
            "png": [
                tagged_png(folder).read_bytes(),
                _saved(picture().convert("P"), "PNG", transparency=0),
                _saved(rgba, "PNG"),
                _saved(picture("L").convert("I;16"), "PNG"),
                _saved(frames[0], "PNG", save_all=True, append_images=frames[1:]),
                _saved(picture(), "PNG", icc_profile=_srgb_profile()),  # an iCCP chunk
            ],
            "webp": [
                tagged_webp(folder).read_bytes(),
                _saved(picture(), "WEBP", lossless=True),
                _saved(rgba, "WEBP", quality=80),
                _saved(frames[0], "WEBP", save_all=True, append_images=frames[1:]),
            ],
            "heif": [tagged_heic(folder).read_bytes()],
            "pdf": [tagged_pdf(folder, photo).read_bytes(), _two_page_pdf(photo)],
            "office": [
                zip_bytes(docx_parts(photo)),
                zip_bytes(pptx_parts(photo)),
                zip_bytes(_xlsx_parts()),
            ],
            "text": [
                "Le camion passe le mardi soir, rue Sainte-Catherine. ✓\n".encode(),
                b"plain notes\r\nline two\n",
            ],
        }


def _two_page_pdf(photo: bytes) -> bytes:
    pdf_file = pikepdf.new()
    for _ in range(2):
        pdf_file.add_blank_page(page_size=(100, 100))
    image = pikepdf.Stream(pdf_file, photo)
    image.Type, image.Subtype, image.Filter = (
        pikepdf.Name.XObject,
        pikepdf.Name.Image,
        pikepdf.Name.DCTDecode,
    )
    image.Width, image.Height = picture().size
    image.ColorSpace, image.BitsPerComponent = pikepdf.Name.DeviceRGB, 8
    for page in pdf_file.pages:
        page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
        page.Contents = pdf_file.make_stream(b"q 64 0 0 48 10 10 cm /Im0 Do Q")
    pdf_file.docinfo["/Author"] = "Canary Author"
    out = io.BytesIO()
    # Uncompressed object streams off: the object syntax itself is there to be damaged.
    pdf_file.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable, compress_streams=False)
    return out.getvalue()


def _xlsx_parts() -> dict[str, bytes]:
    parts = docx_parts(b"")
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    xml = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    return {
        "[Content_Types].xml": parts["[Content_Types].xml"].replace(
            b"word/document", b"xl/workbook"
        ),
        "_rels/.rels": parts["_rels/.rels"].replace(b"word/document", b"xl/workbook"),
        "docProps/core.xml": parts["docProps/core.xml"],
        "xl/workbook.xml": f'{xml}<workbook xmlns="{main}"/>'.encode(),
        "xl/comments1.xml": (
            f'{xml}<comments xmlns="{main}"><authors><author>Canary Reviewer</author></authors>'
            "<commentList/></comments>"
        ).encode(),
    }


# ---------------------------------------------------------------------------------------
# Mutations


def _flip(draw: st.DrawFn, data: bytearray) -> bytearray:
    for _ in range(draw(st.integers(1, 8))):
        if data:
            at = draw(st.integers(0, len(data) - 1))
            data[at] ^= draw(st.integers(1, 255))
    return data


def _truncate(draw: st.DrawFn, data: bytearray) -> bytearray:
    return data[: draw(st.integers(0, len(data)))]


def _duplicate(draw: st.DrawFn, data: bytearray) -> bytearray:
    start = draw(st.integers(0, len(data)))
    end = draw(st.integers(start, min(len(data), start + 4096)))
    at = draw(st.integers(0, len(data)))
    return data[:at] + data[start:end] * draw(st.integers(1, 3)) + data[at:]


def _delete(draw: st.DrawFn, data: bytearray) -> bytearray:
    start = draw(st.integers(0, len(data)))
    end = draw(st.integers(start, min(len(data), start + 4096)))
    return data[:start] + data[end:]


def _insert(draw: st.DrawFn, data: bytearray) -> bytearray:
    at = draw(st.integers(0, len(data)))
    junk = draw(
        st.one_of(
            st.binary(min_size=1, max_size=64),
            st.sampled_from(
                # Bytes that mean something to one of the parsers.
                [b"\xff", b"\xff\xd9", b"\xff\xda\x00\x02", b"\xff\xc0\x00\x11", b"\xff\xe1",
                 b"\x00\x00\x00\x00IEND", b"IDAT", b"RIFF", b"VP8X", b"endobj", b"obj <<",
                 b"trailer", b"xref\n0 1\n", b"startxref\n0\n%%EOF", b"PK\x03\x04",
                 b"PK\x01\x02", b"PK\x05\x06", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff"]
            ),
        )
    )  # fmt: skip
    return data[:at] + junk + data[at:]


def _set_word(draw: st.DrawFn, data: bytearray) -> bytearray:
    """Overwrite 2 or 4 bytes with an extreme value: lengths, sizes, counts, offsets."""
    if len(data) < 4:
        return data
    width = draw(st.sampled_from([2, 4]))
    at = draw(st.integers(0, len(data) - width))
    value = draw(st.sampled_from([0, 1, 2, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]))
    order = draw(st.sampled_from(["big", "little"]))
    data[at : at + width] = (value % (1 << (8 * width))).to_bytes(width, order)  # type: ignore[arg-type]
    return data


MUTATIONS = [_flip, _truncate, _duplicate, _delete, _insert, _set_word]


@st.composite
def mutated(
    draw: st.DrawFn, seeds: list[bytes], magic: bytes, fix: Callable[[bytes], bytes] | None = None
) -> bytes:
    """A seed with one to four mutations, or random bytes behind the format's magic."""
    if draw(st.integers(0, 9)) == 0:
        return magic + draw(st.binary(max_size=2048))
    data = bytearray(draw(st.sampled_from([s for s in seeds if s])))
    for _ in range(draw(st.integers(1, 4))):
        data = draw(st.sampled_from(MUTATIONS))(draw, data)
    out = bytes(data)
    if fix is not None and draw(st.booleans()):
        out = fix(out)  # repair checksums so the damage reaches the deeper code
    return out


def _fix_png_crcs(data: bytes) -> bytes:
    out, pos = bytearray(data[:8]), 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        end = pos + 12 + length
        if end > len(data):
            break
        body = data[pos + 4 : end - 4]
        out += data[pos : pos + 4] + body + zlib.crc32(body).to_bytes(4, "big")
        pos = end
    return bytes(out + data[pos:])


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        if pos + 12 + length > len(data):
            break
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


@st.composite
def damaged_png_chunk(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A well-formed PNG (lengths and CRCs right) with the inside of one chunk damaged.

    Byte-level mutations rarely land in the picture data of a tagged photo, and a chunk
    whose CRC is wrong is refused before it is inflated: this reaches the inflating and
    filter-checking code (IDAT, fdAT, iCCP, zTXt) and the header checks directly."""
    chunks = _png_chunks(draw(st.sampled_from(seeds)))
    compressed = [
        i for i, (kind, _) in enumerate(chunks) if kind in (b"IDAT", b"fdAT", b"iCCP", b"zTXt")
    ]
    index = draw(st.sampled_from(compressed or list(range(len(chunks)))))
    kind, body = chunks[index]
    damage = draw(st.integers(0, 3))
    if damage == 0 and body:  # flip bytes (the zlib header, a filter byte, a length)
        damaged = bytearray(body)
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, min(len(damaged) - 1, 64)))
            damaged[at] ^= draw(st.integers(1, 255))
        body = bytes(damaged)
    elif damage == 1:  # cut short: the stream ends early
        body = body[: draw(st.integers(0, len(body)))]
    elif damage == 2:  # junk in place of the stream
        body = draw(st.binary(max_size=256))
    else:  # a valid stream of the wrong content (wrong size, bad filter types)
        body = zlib.compress(draw(st.binary(max_size=512)))
    chunks[index] = (kind, body)
    out = bytearray(png.SIGNATURE)
    for kind, body in chunks:
        out += (
            len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
        )
    return bytes(out)


@st.composite
def damaged_package(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A valid zip whose parts are damaged, added, renamed or duplicated."""
    with zipfile.ZipFile(io.BytesIO(draw(st.sampled_from(seeds)))) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    names = sorted(parts)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(names))
        action = draw(st.integers(0, 3))
        if action == 0:
            parts[name] = bytes(draw(st.sampled_from(MUTATIONS))(draw, bytearray(parts[name])))
        elif action == 1:
            del parts[name]
            names = sorted(parts) or ["[Content_Types].xml"]
        elif action == 2:
            parts[
                draw(
                    st.sampled_from(
                        [
                            "word/media/x.bin",
                            "ppt/embeddings/x.docx",
                            "xl/media/x.png",
                            "/abs.xml",
                            "../up.xml",
                            "word/a.xml",
                        ]
                    )
                )
            ] = draw(  # fmt: skip
                st.sampled_from(
                    [
                        b"",
                        b"\xff\xd8\xff\xe0",
                        b"\x89PNG\r\n\x1a\n",
                        b"<a/>",
                        b"<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>",
                        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
                        zip_bytes(parts),
                    ]
                )  # fmt: skip
            )
        else:
            parts[name + draw(st.sampled_from(["", "/", ".rels"]))] = parts[name]
    if not parts:
        return b"PK\x05\x06" + bytes(18)
    return zip_bytes(parts)


# ---------------------------------------------------------------------------------------
# The property


def _decodes(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()


def check(scrubber: Callable[[bytes], Scrubbed], data: bytes) -> Scrubbed | None:
    """Scrub; a refusal must be one of ours; a result must be usable and stable."""
    try:
        result = scrubber(data)
    except REFUSALS as refusal:
        assert str(refusal.message), "a refusal says why"
        event(f"refused ({type(refusal).__name__})")  # --hypothesis-show-statistics
        return None
    event("cleaned")
    assert isinstance(result, Scrubbed) and result.data
    if result.media_type.startswith("image/"):
        _decodes(result.data)
    again = scrub_any(result.data)  # through the registry: detection must agree too
    assert again.media_type == result.media_type
    if result.media_type == pdf.MEDIA_TYPE:
        with pikepdf.open(io.BytesIO(again.data)) as cleaned:
            assert "/Info" not in cleaned.trailer and "/Metadata" not in cleaned.Root
    else:
        assert again.data == result.data, "scrubbing a scrubbed file changes it again"
    return result


# ---------------------------------------------------------------------------------------
# One target per scrubber


@given(data=st.data())
@fuzz_settings(400)
def test_fuzz_jpeg(data) -> None:  # type: ignore[no-untyped-def]
    check(jpeg.scrub, data.draw(mutated(seeds()["jpeg"], b"\xff\xd8\xff")))


@given(data=st.data())
@fuzz_settings(400)
def test_fuzz_png(data) -> None:  # type: ignore[no-untyped-def]
    png_seeds = seeds()["png"]
    check(
        png.scrub,
        data.draw(
            st.one_of(
                mutated(png_seeds, png.SIGNATURE, _fix_png_crcs), damaged_png_chunk(png_seeds)
            )
        ),
    )


@given(data=st.data())
@fuzz_settings(400)
def test_fuzz_webp(data) -> None:  # type: ignore[no-untyped-def]
    check(webp.scrub, data.draw(mutated(seeds()["webp"], b"RIFF\x00\x01\x00\x00WEBP")))


@given(data=st.data())
@fuzz_settings(150)
def test_fuzz_heif(data) -> None:  # type: ignore[no-untyped-def]
    check(heif.scrub, data.draw(mutated(seeds()["heif"], b"\x00\x00\x00\x18ftypheic")))


@given(data=st.data())
@fuzz_settings(200)
def test_fuzz_pdf(data) -> None:  # type: ignore[no-untyped-def]
    check(pdf.scrub, data.draw(mutated(seeds()["pdf"], b"%PDF-1.7\n")))


@given(data=st.data())
@fuzz_settings(200)
def test_fuzz_office(data) -> None:  # type: ignore[no-untyped-def]
    damaged = st.one_of(
        mutated(seeds()["office"], b"PK\x03\x04"), damaged_package(seeds()["office"])
    )
    check(office.scrub, data.draw(damaged))


@given(data=st.data())
@fuzz_settings(200)
def test_fuzz_text(data) -> None:  # type: ignore[no-untyped-def]
    check(text.scrub, data.draw(st.one_of(mutated(seeds()["text"], b""), st.binary(max_size=512))))


@given(data=st.data())
@fuzz_settings(400)
def test_fuzz_detect_and_registry(data) -> None:  # type: ignore[no-untyped-def]
    everything = [s for group in seeds().values() for s in group]
    sample = data.draw(st.one_of(mutated(everything, b""), st.binary(max_size=256)))
    kind = detect(sample)
    assert kind is None or isinstance(kind, str)
    assert detect(sample[:64]) is None or isinstance(detect(sample[:64]), str)
    check(scrub_any, sample)
