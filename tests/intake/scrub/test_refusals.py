"""What is refused, and how: by content, with a message a tipster can act on."""

from __future__ import annotations

import io
import zipfile

import pikepdf
import pytest
from PIL import Image

from tests.intake.scrub.samples import (
    docx_parts,
    object_stream_bomb,
    picture,
    tagged_jpeg,
    tagged_pdf,
    zip_bytes,
)
from tipline.intake.scrub import ACCEPTED, ScrubError, UnsupportedType, detect, scrub

pytestmark = pytest.mark.embedded


def _gif() -> bytes:
    out = io.BytesIO()
    picture().save(out, "GIF")
    return out.getvalue()


def _docm() -> bytes:
    parts = docx_parts(b"\xff\xd8\xff")
    parts["word/vbaProject.bin"] = b"\xd0\xcf\x11\xe0 macro"
    return zip_bytes(parts)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_gif(), id="gif"),
        pytest.param(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56, id="elf"),
        pytest.param(zip_bytes({"notes.txt": b"hello"}), id="plain-zip"),
        pytest.param(_docm(), id="docm-with-macros"),
        pytest.param(b"{\\rtf1\\ansi {\\info{\\author Canary}} hi}", id="rtf-looks-like-text"),
        pytest.param("caf\xe9".encode("latin-1"), id="invalid-utf8"),
    ],
)
def test_unsupported_types_are_refused_with_the_accepted_list(data: bytes) -> None:
    with pytest.raises(UnsupportedType) as refused:
        scrub(data)
    assert refused.value.accepted == ACCEPTED
    assert refused.value.status == 415
    for name in ("JPEG image", "PDF document", "Word document (.docx)", "plain text (UTF-8)"):
        assert name in str(refused.value)


def test_type_comes_from_content_not_from_the_name(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lying = tmp_path / "holiday.jpg"  # a PNG, whatever the name says
    picture().save(lying, "PNG")
    result = scrub(lying.read_bytes())
    assert (result.media_type, result.extension) == ("image/png", "png")
    assert detect(lying.read_bytes()[:16]) == "image/png"


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(lambda b: b[:200] + b"garbage" + b[200:], id="broken-segment"),
        pytest.param(lambda b: b"\xff\xd8\xff\xd9", id="no-picture"),
    ],
)
def test_corrupt_jpeg_is_a_scrub_error(tmp_path, damage) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ScrubError):
        scrub(damage(tagged_jpeg(tmp_path).read_bytes()))


def test_corrupt_pdf_is_a_scrub_error() -> None:
    with pytest.raises(ScrubError, match="PDF"):
        scrub(b"%PDF-1.7\n" + b"\x00garbage that is no PDF at all" * 10)


def test_encrypted_pdf_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = tagged_pdf(tmp_path, tagged_jpeg(tmp_path).read_bytes())
    locked = tmp_path / "locked.pdf"
    with pikepdf.open(source) as pdf:
        pdf.save(locked, encryption=pikepdf.Encryption(owner="o", user=""))
    with pytest.raises(ScrubError, match="Encrypted"):
        scrub(locked.read_bytes())


def test_empty_file_is_refused() -> None:
    with pytest.raises(ScrubError, match="empty"):
        scrub(b"")


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge picture (a decompression bomb's first bytes)."""
    out = io.BytesIO()
    Image.new("1", (8, 8)).save(out, "PNG")
    data = bytearray(out.getvalue())
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    import zlib

    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def test_decompression_bombs_are_refused_before_decoding(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ScrubError, match="too large"):
        scrub(_png_claiming(20_000, 20_000))
    assert scrub(_png_claiming(8, 8)).media_type == "image/png"

    jpeg = bytearray(tagged_jpeg(tmp_path).read_bytes())
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = (60_000).to_bytes(2, "big") * 2
    with pytest.raises(ScrubError, match="too large"):
        scrub(bytes(jpeg))


def test_zip_bombs_are_refused() -> None:
    many = docx_parts(b"")
    many.update({f"word/media/blank{i}.bin": b"" for i in range(1001)})
    with pytest.raises(ScrubError, match="too many"):
        scrub(zip_bytes(many))

    huge = io.BytesIO()
    with zipfile.ZipFile(huge, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, body in docx_parts(b"").items():
            zf.writestr(name, body)
        zf.writestr("word/media/zeros.bin", b"\x00" * (101 * 1024 * 1024))
    with pytest.raises(ScrubError, match="too large"):
        scrub(huge.getvalue())


def _pdf_with_pages(count: int) -> bytes:
    pdf = pikepdf.new()
    for _ in range(count):
        pdf.add_blank_page(page_size=(100, 100))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_pdf_page_cap(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tipline.intake.scrub import limits
    from tipline.intake.scrub import pdf as pdf_scrubber

    assert 100 <= limits.MAX_PDF_PAGES <= 10_000  # a real report fits; a page bomb does not
    monkeypatch.setattr(pdf_scrubber, "MAX_PDF_PAGES", 5)
    assert scrub(_pdf_with_pages(5)).media_type == "application/pdf"
    with pytest.raises(ScrubError) as refused:
        scrub(_pdf_with_pages(6))
    assert str(refused.value) == (
        "The PDF document has too many pages (6; the limit is 5). "
        "Please send only the pages that matter."
    )


def test_pdf_object_cap(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tipline.intake.scrub import limits
    from tipline.intake.scrub import pdf as pdf_scrubber

    assert 10_000 <= limits.MAX_PDF_OBJECTS <= 1_000_000
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.Root.Extra = pikepdf.Array([pdf.make_indirect(pikepdf.Dictionary(N=i)) for i in range(60)])
    out = io.BytesIO()
    pdf.save(out)
    monkeypatch.setattr(pdf_scrubber, "MAX_PDF_OBJECTS", 50)
    with pytest.raises(ScrubError) as refused:
        scrub(out.getvalue())
    assert str(refused.value) == (
        "The PDF document is too complex to clean safely (more than 50 objects). "
        "Please print it to a new PDF, or send only the pages that matter."
    )


def test_pdf_object_stream_bomb_never_grows_the_web_process(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import resource

    from tipline.intake.scrub import pdf as pdf_scrubber

    bomb = object_stream_bomb(300 * 1024 * 1024)  # 300 KB that qpdf inflates to 300 MB
    assert len(bomb) < 400_000
    monkeypatch.setattr(pdf_scrubber, "SANDBOX_MEMORY_BYTES", 128 * 1024 * 1024)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        result = scrub(bomb)
    except ScrubError:
        pass  # refused, or (below) qpdf gave up on the object within the child's memory
    else:
        with pikepdf.open(io.BytesIO(result.data)) as cleaned:
            assert "/X" not in cleaned.Root or pikepdf.Dictionary(A=1) == cleaned.Root.X
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 64 * 1024, f"the web process grew by {grown_kb // 1024} MB"


def test_a_pdf_parser_that_runs_too_long_is_stopped(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import time

    from tipline.intake.scrub import pdf as pdf_scrubber

    def stuck(data: bytes) -> bytes:
        while True:
            time.sleep(0.01)

    monkeypatch.setattr(pdf_scrubber, "_cleaned", stuck)
    monkeypatch.setattr(pdf_scrubber, "SANDBOX_WALL_SECONDS", 0.5)
    started = time.monotonic()
    with pytest.raises(ScrubError, match="too large or too complex"):
        scrub(_pdf_with_pages(1))
    assert time.monotonic() - started < 5


def _inner_document(megabytes: int) -> bytes:
    """A docx whose parts are 1 MB of zeros each: every part under the ratio check's grace
    size, the whole well under the total limit on its own."""
    parts = docx_parts(b"")
    parts.update({f"word/media/blank{i}.bin": bytes(1024 * 1024) for i in range(megabytes)})
    return zip_bytes(parts)


def test_zip_bomb_caps_cover_documents_embedded_in_documents() -> None:
    inner = _inner_document(40)
    assert scrub(inner).media_type.endswith("wordprocessingml.document")  # alone it is fine
    outer = docx_parts(b"")
    outer.update({f"word/embeddings/doc{i}.docx": inner for i in range(3)})  # 120 MB in all
    with pytest.raises(ScrubError) as refused:
        scrub(zip_bytes(outer))
    assert str(refused.value) == "The document is too large once uncompressed (over 100 MB)."


def test_zip_bomb_compression_ratio_is_capped() -> None:
    parts = docx_parts(b"")
    parts["word/media/zeros.bin"] = bytes(2 * 1024 * 1024)  # deflates about 1000 times
    with pytest.raises(ScrubError) as refused:
        scrub(zip_bytes(parts))
    assert str(refused.value) == (
        "The document cannot be cleaned safely: a part of it is compressed more than "
        "100 times. Please save it again and send the new file."
    )
    parts["word/media/zeros.bin"] = bytes(1024 * 1024)  # small parts may compress well
    assert scrub(zip_bytes(parts)).extension == "docx"


def test_zip_bomb_nesting_depth_is_capped() -> None:
    from tipline.intake.scrub.limits import MAX_ZIP_DEPTH

    def nested(levels: int) -> bytes:
        document = zip_bytes(docx_parts(b""))
        for _ in range(levels):
            parts = docx_parts(b"")
            parts["word/embeddings/inner.docx"] = document
            document = zip_bytes(parts)
        return document

    # A chart (an embedded workbook) in a document in a presentation is ordinary.
    assert scrub(nested(MAX_ZIP_DEPTH)).extension == "docx"
    with pytest.raises(ScrubError) as refused:
        scrub(nested(MAX_ZIP_DEPTH + 1))
    assert str(refused.value) == (
        "The document embeds documents in documents too deeply to clean safely."
    )


def test_zip_whose_directory_lies_about_sizes_is_refused_without_reading_more() -> None:
    parts = docx_parts(b"")
    parts["word/media/big.bin"] = bytes(range(256)) * 4096  # 1 MB, incompressible enough
    data = bytearray(zip_bytes(parts))
    entry = data.rindex(b"PK\x01\x02", 0, data.rindex(b"word/media/big.bin"))
    data[entry + 24 : entry + 28] = (10).to_bytes(4, "little")  # "10 bytes uncompressed"
    with pytest.raises(ScrubError, match="damaged"):
        scrub(bytes(data))


def test_zip_bomb_with_a_huge_directory_is_refused_before_parsing_it() -> None:
    data = bytearray(zip_bytes(docx_parts(b"")))
    end = data.rindex(b"PK\x05\x06")
    data[end + 8 : end + 12] = (60_000).to_bytes(2, "little") * 2  # entries claimed
    with pytest.raises(ScrubError, match="too many parts"):
        scrub(bytes(data))


def test_a_pdf_parser_that_crashes_refuses_the_file_and_spares_the_web_process(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os
    import signal

    from tipline.intake.scrub import pdf as pdf_scrubber

    def killed(data: bytes) -> bytes:
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's out-of-memory killer would
        raise AssertionError("unreachable")

    monkeypatch.setattr(pdf_scrubber, "_cleaned", killed)
    with pytest.raises(ScrubError, match="too large or too complex"):
        scrub(_pdf_with_pages(1))


def test_a_bug_in_the_sandboxed_pdf_scrubber_is_still_a_bug(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tipline.intake.scrub import pdf as pdf_scrubber

    def buggy(data: bytes) -> bytes:
        return {}["missing"]  # type: ignore[no-any-return]

    monkeypatch.setattr(pdf_scrubber, "_cleaned", buggy)
    with pytest.raises(RuntimeError, match="KeyError: 'missing'"):  # what the fuzz tests see
        pdf_scrubber.scrub(_pdf_with_pages(1))
    with pytest.raises(ScrubError, match="could not be cleaned safely"):  # what tipsters see
        scrub(_pdf_with_pages(1))


def test_a_heic_that_needs_too_much_memory_to_decode_is_refused(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.intake.scrub.samples import tagged_heic
    from tipline.intake.scrub import heif as heif_scrubber
    from tipline.intake.scrub.limits import SANDBOX_MEMORY_BYTES

    photo = tagged_heic(tmp_path).read_bytes()
    assert scrub(photo).media_type == "image/jpeg"

    def decoding_a_bomb(data: bytes) -> bytes:  # what libheif does with a hostile bitstream
        return bytes(4 * SANDBOX_MEMORY_BYTES)

    monkeypatch.setattr(heif_scrubber, "_as_jpeg", decoding_a_bomb)
    with pytest.raises(ScrubError) as refused:
        scrub(photo)
    assert str(refused.value) == (
        "The HEIC/HEIF photo is too large or too complex to convert safely. "
        "Please send it as a JPEG image."
    )
