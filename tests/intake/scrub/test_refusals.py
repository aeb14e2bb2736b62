"""What is refused, and how: by content, with a message a tipster can act on."""

from __future__ import annotations

import io
import zipfile

import pikepdf
import pytest
from PIL import Image

from tests.intake.scrub.samples import docx_parts, picture, tagged_jpeg, tagged_pdf, zip_bytes
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
