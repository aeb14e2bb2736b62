"""What the fuzz targets (test_fuzz.py) found, each pinned by a small real file.

Before the fixes, each of these was stored as a file the investigator could not open, or
raised something other than a refusal with a message (a 500 or a generic message).
"""

from __future__ import annotations

import io
import re
import zlib

import pikepdf
import pytest
from PIL import Image

from tests.intake.scrub.samples import docx_parts, picture, zip_bytes
from tipline.intake.scrub import ScrubError, UnsupportedType, detect, scrub
from tipline.intake.scrub import office as office_scrubber
from tipline.intake.scrub import text as text_scrubber

pytestmark = pytest.mark.embedded

_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _jpeg(**options: object) -> bytes:
    out = io.BytesIO()
    picture().save(out, "JPEG", **options)
    return out.getvalue()


def _segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, whole segment incl. the scan data after an SOS) of a JPEG, in order."""
    found, pos = [], 2
    while data[pos + 1] != 0xD9:
        marker = data[pos + 1]
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xDA:
            end = _NEXT_MARKER.search(data, end).start()  # type: ignore[union-attr]
        found.append((marker, data[pos:end]))
        pos = end
    return found


def _rebuild(segments: list[tuple[int, bytes]]) -> bytes:
    return b"\xff\xd8" + b"".join(s for _, s in segments) + b"\xff\xd9"


def _decodes(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
    return True


def _edit_frame(data: bytes, at: int, value: int) -> bytes:
    segments = _segments(data)
    index = next(i for i, (m, _) in enumerate(segments) if m == 0xC0)
    frame = bytearray(segments[index][1])
    frame[4 + at] = value
    segments[index] = (0xC0, bytes(frame))
    return _rebuild(segments)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        pytest.param(lambda d: _edit_frame(d, 0, 12), "12 bits per colour", id="12-bit"),
        pytest.param(lambda d: _edit_frame(d, 5, 255), "damaged", id="255-components"),
        pytest.param(lambda d: _edit_frame(d, 10, 0x31), "damaged", id="fractional-sampling"),
        pytest.param(
            lambda d: _rebuild([(m, s[:-1] if m == 0xDB else s) for m, s in _segments(d)]).replace(
                b"\xff\xdb\x00\x43", b"\xff\xdb\x00\x42"
            ),
            "damaged",
            id="short-quantization-table",
        ),
        pytest.param(
            lambda d: _rebuild([(m, s) for m, s in _segments(d) if m != 0xDB]),
            "damaged",
            id="no-quantization-table",
        ),
        pytest.param(
            lambda d: _rebuild(_segments(d) + [s for s in _segments(d) if s[0] == 0xDA]),
            "damaged",
            id="second-scan-in-a-sequential-jpeg",
        ),
    ],
)
def test_a_jpeg_the_decoder_would_refuse_is_refused_with_a_message(damage, message) -> None:  # type: ignore[no-untyped-def]
    original = _jpeg()
    broken = damage(original)
    with pytest.raises(ScrubError, match=message):
        scrub(broken)


def test_a_progressive_jpeg_missing_its_huffman_tables_is_refused() -> None:
    broken = _rebuild([(m, s) for m, s in _segments(_jpeg(progressive=True)) if m != 0xC4])
    with pytest.raises(ScrubError, match="damaged"):
        scrub(broken)


def test_a_motion_jpeg_still_without_huffman_tables_is_accepted_and_opens() -> None:
    # Video cameras leave out the standard tables; libjpeg-turbo supplies them.
    still = _rebuild([(m, s) for m, s in _segments(_jpeg()) if m != 0xC4])
    result = scrub(still)
    assert _decodes(result.data) and result.data == still


def test_a_jpeg_with_thousands_of_scans_is_refused() -> None:
    segments = _segments(_jpeg(progressive=True))
    last_scan = [s for s in segments if s[0] == 0xDA][-1]
    with pytest.raises(ScrubError, match="damaged"):
        scrub(_rebuild(segments + [last_scan] * 200))


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def _png_with_image_data(
    raw_rows: bytes, *, valid: bool = True, compressed: bytes | None = None
) -> bytes:
    header = (4).to_bytes(4, "big") * 2 + bytes((8, 0, 0, 0, 0))  # 4×4 grey, 8 bits
    data = zlib.compress(raw_rows) if compressed is None else compressed
    if not valid:
        data = data[:2] + bytes(b ^ 0x55 for b in data[2:8]) + data[8:]
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def test_a_png_with_checksums_right_but_its_picture_data_broken_is_refused() -> None:
    good = bytes([0, 1, 2, 3, 4] * 4)  # four rows: filter 0, four pixels
    assert _decodes(scrub(_png_with_image_data(good)).data)
    with pytest.raises(ScrubError, match="damaged"):
        scrub(_png_with_image_data(good, valid=False))
    with pytest.raises(ScrubError, match="incomplete"):
        scrub(_png_with_image_data(good[:10]))
    with pytest.raises(ScrubError, match="damaged"):  # filter type 9 does not exist
        scrub(_png_with_image_data(bytes([9, 1, 2, 3, 4]) + good[5:]))


def test_a_png_whose_picture_stream_never_ends_or_holds_too_much_is_refused() -> None:
    # Found by the chunk-aware fuzz under --long: every row was there, but the deflate
    # stream stopped before its end (no last block, no checksum). It was stored, and
    # Pillow refuses to open it ("image file is truncated").
    good = bytes([0, 1, 2, 3, 4] * 4)
    unended = zlib.compressobj()
    stream = unended.compress(good) + unended.flush(zlib.Z_SYNC_FLUSH)
    assert zlib.decompressobj().decompress(stream) == good  # all the rows, no end
    with pytest.raises(ScrubError, match="incomplete"):
        scrub(_png_with_image_data(good, compressed=stream))
    with pytest.raises(ScrubError, match="damaged"):  # a fifth row the header does not have
        scrub(_png_with_image_data(good + good[:5]))


def test_a_png_with_a_broken_animation_is_kept_as_its_still_picture() -> None:
    frames = [picture(), picture().rotate(180)]
    out = io.BytesIO()
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:])
    apng = bytearray(out.getvalue())
    second = apng.index(b"fcTL", apng.index(b"IDAT"))
    apng[second + 4 : second + 8] = (7).to_bytes(4, "big")  # frame sequence number out of order
    crc_at = second + 4 + 26
    apng[crc_at : crc_at + 4] = zlib.crc32(apng[second : second + 4 + 26]).to_bytes(4, "big")
    result = scrub(bytes(apng))
    assert b"acTL" not in result.data and b"fdAT" not in result.data
    with Image.open(io.BytesIO(result.data)) as image:
        image.load()
        assert image.size == picture().size and getattr(image, "n_frames", 1) == 1


def test_a_png_colour_chunk_of_the_wrong_size_is_dropped() -> None:
    png = bytearray(_png_with_image_data(bytes([0, 1, 2, 3, 4] * 4)))
    at = png.index(b"IDAT") - 4
    short_gamma = _png_chunk(b"gAMA", b"\x00\x01")  # 4 bytes in the standard
    result = scrub(bytes(png[:at]) + short_gamma + bytes(png[at:]))
    assert b"gAMA" not in result.data and _decodes(result.data)


def test_a_webp_whose_picture_data_is_cut_inside_its_chunk_is_refused() -> None:
    out = io.BytesIO()
    picture().save(out, "WEBP", quality=80)
    webp = bytearray(out.getvalue())
    at = webp.index(b"VP8 ")
    length = int.from_bytes(webp[at + 4 : at + 8], "little")
    body = webp[at + 8 : at + 8 + 20]  # the frame header survives, the picture does not
    damaged = webp[:at] + b"VP8 " + len(body).to_bytes(4, "little") + body
    damaged[4:8] = (len(damaged) - 8).to_bytes(4, "little")
    assert length > 20
    with pytest.raises(ScrubError, match="damaged"):
        scrub(bytes(damaged))


def test_a_pdf_page_tree_without_a_count_is_refused_not_crashed() -> None:
    pdf = pikepdf.new()
    for _ in range(2):
        pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable, compress_streams=False)
    # As the fuzzer left it: the /Count key garbled and one page object unreadable.
    broken = out.getvalue().replace(b"/Count 2", b"\x8cCount 2").replace(b"\n4 0 obj", b'\n" 0 obj')
    assert broken.count(b"\x8cCount") == 1 and b'\n" 0 obj' in broken
    with pytest.raises(ScrubError, match="PDF document is damaged"):
        scrub(broken)


@pytest.mark.parametrize(
    "name",
    ["", "../escape.xml", "/absolute.xml", "word/../../escape.xml", "word\\evil.xml", "a//b.xml"],
)
def test_office_parts_with_unsafe_names_are_refused(name: str) -> None:
    # Stored as is, "../escape.xml" would be written outside the folder an investigator
    # extracts the document to; an empty name crashed the reader.
    parts = docx_parts(b"")
    parts[name] = b"<x/>"
    with pytest.raises(ScrubError) as refused:
        office_scrubber.scrub(zip_bytes(parts))
    assert str(refused.value) in (
        "The document is damaged: a part has an invalid name.",
        "The document is damaged or encrypted and cannot be read. Please send it again.",
    )


def test_an_office_folder_entry_does_not_decide_the_document_type() -> None:
    parts = docx_parts(b"")
    parts = {n.replace("word/", "xl/"): b for n, b in parts.items() if n.startswith("[")}
    parts["xl/comments1.xml/"] = b""  # a folder entry, no part inside it
    package = zip_bytes(parts)
    assert detect(package) == "application/zip"
    with pytest.raises(UnsupportedType):
        office_scrubber.scrub(package)


@pytest.mark.parametrize(
    "data", [b"notes\x00hidden", b"Rar!", b"{\\rtf1 \\author x}", b"<svg><metadata/></svg>"]
)
def test_the_text_scrubber_itself_refuses_what_detection_would(data: bytes) -> None:
    with pytest.raises(UnsupportedType):
        text_scrubber.scrub(data)
    with pytest.raises(ScrubError, match="empty"):
        text_scrubber.scrub(b"")


def test_an_office_part_with_broken_compressed_data_is_refused_not_crashed() -> None:
    package = bytearray(zip_bytes(docx_parts(b"")))
    name = package.index(b"word/document.xml")  # the local header's name, then the data
    package[name + 20 : name + 30] = b"\xff" * 10  # an invalid deflate block
    with pytest.raises(ScrubError) as refused:
        office_scrubber.scrub(bytes(package))
    assert str(refused.value) == (
        "The document is damaged or encrypted and cannot be read. Please send it again."
    )


def test_a_heic_whose_boxes_disagree_with_its_picture_is_refused_not_crashed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.intake.scrub.samples import tagged_heic

    heic = bytearray(tagged_heic(tmp_path).read_bytes())
    extent = heic.index(b"ispe")  # the image spatial extent: version, width, height
    heic[extent + 12 : extent + 16] = (0x01000040).to_bytes(4, "big")  # 16,777,280 rows
    with pytest.raises(ScrubError) as refused:
        scrub(bytes(heic))  # was libheif's RuntimeError: "Security limit exceeded"
    assert str(refused.value) == (
        "The image is too large to process safely. Please send a smaller version."
    )
