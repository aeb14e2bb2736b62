"""Photos and screenshots: identifying metadata gone, picture intact (exiftool as the judge)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.intake.scrub.samples import (
    CANARIES,
    SIZE,
    assert_clean,
    exif_report,
    tagged_heic,
    tagged_jpeg,
    tagged_png,
    tagged_webp,
)
from tipline.intake.scrub import scrub

pytestmark = pytest.mark.embedded

# What exiftool may still report on a clean image: the file itself, its size and colours.
IMAGE_GROUPS = {"SourceFile", "System", "ExifTool", "File", "Composite"} | {
    "ICC_Profile", "ICC-header", "ICC-chrm", "ICC-meas", "ICC-view"
}  # fmt: skip
PNG_HEADER = {f"PNG:{k}" for k in ("ImageWidth", "ImageHeight", "BitDepth", "ColorType",
                                    "Compression", "Filter", "Interlace")}  # fmt: skip


def groups(report: dict[str, object]) -> set[str]:
    return {key.split(":")[0] for key in report}


def _decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_jpeg_loses_gps_serial_author_xmp_iptc_and_comment_without_reencoding(tmp_path) -> None:  # type: ignore[no-untyped-def]
    original = tagged_jpeg(tmp_path).read_bytes()
    result = scrub(original)
    out = tmp_path / "out.jpg"
    out.write_bytes(result.data)

    report = assert_clean(out)
    assert (result.media_type, result.extension) == ("image/jpeg", "jpg")
    assert groups(report) <= IMAGE_GROUPS | {"JFIF"}, groups(report)
    assert "ICC_Profile:ProfileDescription" in report, "the ICC profile keeps colours right"
    before, after = _decoded(original), _decoded(result.data)
    assert after.size == SIZE
    # Lossless: the scan data is copied, so the decoded pixels are identical.
    assert before.tobytes() == after.tobytes()


def test_jpeg_with_orientation_6_is_turned_upright_and_keeps_no_exif(tmp_path) -> None:  # type: ignore[no-untyped-def]
    original = tagged_jpeg(tmp_path, orientation=6).read_bytes()
    result = scrub(original)
    out = tmp_path / "out.jpg"
    out.write_bytes(result.data)

    report = assert_clean(out)
    assert not [k for k in report if "Orientation" in k or k.startswith(("IFD0", "ExifIFD"))]
    image = _decoded(result.data)
    assert image.size == (SIZE[1], SIZE[0])
    assert not image.getexif()
    # Rotated 90° clockwise: the red top-left block is now at the top right.
    assert image.getpixel((SIZE[1] - 3, 3))[0] > 150 and image.getpixel((3, 3))[1] > 200


def test_jpeg_polyglot_loses_what_follows_the_picture(tmp_path) -> None:  # type: ignore[no-untyped-def]
    original = tagged_jpeg(tmp_path).read_bytes() + b"PK\x03\x04 Canary Author zip payload"
    result = scrub(original)
    assert b"PK\x03\x04" not in result.data and result.data.endswith(b"\xff\xd9")


def test_png_loses_text_exif_xmp_and_time_chunks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    original = tagged_png(tmp_path).read_bytes()
    result = scrub(original)
    out = tmp_path / "out.png"
    out.write_bytes(result.data)

    report = assert_clean(out)
    assert groups(report) <= IMAGE_GROUPS | {"PNG"}, groups(report)
    assert {k for k in report if k.startswith("PNG:")} == PNG_HEADER
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"):
        assert chunk not in result.data
    assert _decoded(result.data).tobytes() == _decoded(original).tobytes()


def test_webp_loses_exif_and_xmp_chunks_and_flags(tmp_path) -> None:  # type: ignore[no-untyped-def]
    original = tagged_webp(tmp_path).read_bytes()
    result = scrub(original)
    out = tmp_path / "out.webp"
    out.write_bytes(result.data)

    report = assert_clean(out)
    assert groups(report) <= IMAGE_GROUPS | {"RIFF"}, groups(report)
    assert b"EXIF" not in result.data and b"XMP " not in result.data
    assert int.from_bytes(result.data[4:8], "little") == len(result.data) - 8
    assert _decoded(result.data).size == SIZE


def test_heic_becomes_a_clean_jpeg_of_the_same_size(tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = tagged_heic(tmp_path)
    assert any("Canary" in str(v) for v in exif_report(source).values())  # the test has teeth
    result = scrub(source.read_bytes())
    out = tmp_path / "out.jpg"
    out.write_bytes(result.data)

    report = assert_clean(out)
    assert groups(report) <= IMAGE_GROUPS | {"JFIF"}, groups(report)
    assert (result.media_type, result.extension) == ("image/jpeg", "jpg")
    assert _decoded(result.data).size == SIZE


def test_samples_really_carry_the_canaries(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for build in (tagged_jpeg, tagged_png, tagged_webp):
        path = build(tmp_path)
        dump = str(exif_report(path))
        assert "CANARYSN4242" in dump and "GPS" in dump, path.name
        assert any(c in dump for c in CANARIES if c != "CANARYSN4242")


def test_heic_taken_sideways_comes_out_upright(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pillow_heif

    from tests.intake.scrub.samples import picture

    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    exif[0x0112] = 6  # the phone was turned: pillow_heif stores it as the container's rotation
    source = io.BytesIO()
    picture().save(source, "HEIF", quality=90, exif=exif.tobytes())
    result = scrub(source.getvalue())
    image = _decoded(result.data)
    assert image.size == (SIZE[1], SIZE[0])
    assert not image.getexif()
    # Rotated 90° clockwise: the red top-left block is now at the top right.
    assert image.getpixel((SIZE[1] - 3, 3))[0] > 150 and image.getpixel((3, 3))[1] > 200
