"""Colour profiles keep the colours and lose what names the device (see scrub/icc.py)."""

from __future__ import annotations

import io
import zlib

import pikepdf
import pytest
from PIL import Image, ImageCms

from tests.intake.scrub.samples import (
    assert_clean,
    canary_icc_profile,
    exif_report,
    picture,
    tag,
)
from tipline.intake.scrub import icc, scrub

pytestmark = pytest.mark.embedded

DEVICE_HEADER = ("DeviceManufacturer", "DeviceModel", "ProfileCreator", "ProfileCMMType")


def _saved(fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    picture().save(out, fmt, icc_profile=canary_icc_profile(), **options)
    return out.getvalue()


def _lab(profile: bytes) -> bytes:
    """The picture's colours through ``profile``, as a colour-managed viewer computes them."""
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    lab = ImageCms.createProfile("LAB")
    return ImageCms.profileToProfile(picture(), source, lab, outputMode="LAB").tobytes()


def _icc_report(path) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {k: v for k, v in exif_report(path).items() if k.startswith("ICC")}


@pytest.mark.parametrize(
    "sample",
    [
        pytest.param(lambda: _saved("JPEG", quality=90), id="jpeg"),
        pytest.param(lambda: _saved("PNG"), id="png"),
        pytest.param(lambda: _saved("WEBP", quality=90), id="webp"),
    ],
)
def test_a_device_profile_loses_its_names_but_not_its_colours(tmp_path, sample) -> None:  # type: ignore[no-untyped-def]
    original = sample()
    source = tmp_path / "in.img"
    source.write_bytes(original)
    before = _icc_report(source)
    assert before["ICC_Profile:ProfileDescription"] == "CanaryModel camera profile"
    assert before["ICC_Profile:DeviceModelDesc"] == "CanaryModel"  # the test has teeth
    assert "CNRY" in str(before["ICC-header:DeviceManufacturer"])

    result = scrub(original)
    out = tmp_path / "out.img"
    out.write_bytes(result.data)
    assert_clean(out)  # no CanaryMake / CanaryModel / Canary Company, as exiftool sees it
    after = _icc_report(out)
    assert after["ICC_Profile:ProfileDescription"] == icc.DESCRIPTION
    assert after["ICC_Profile:ProfileCopyright"] == ""
    assert after["ICC-header:ProfileDateTime"] == "0000:00:00 00:00:00"
    for field in DEVICE_HEADER:
        assert not after.get(f"ICC-header:{field}"), (field, after)
    assert not [k for k in after if "Desc" in k and k != "ICC_Profile:ProfileDescription"]
    assert "ICC_Profile:MakeAndModel" not in after and b"CNRY" not in result.data

    with Image.open(io.BytesIO(result.data)) as cleaned:
        cleaned.load()
        kept = cleaned.info["icc_profile"]
    # The colours a colour-managed viewer shows are exactly those of the original profile.
    assert _lab(kept) == _lab(canary_icc_profile())
    assert scrub(result.data).data == result.data  # and cleaning again changes nothing


def test_a_png_profile_name_is_replaced(tmp_path) -> None:  # type: ignore[no-untyped-def]
    png = _saved("PNG")
    at = png.index(b"iCCP")
    length = int.from_bytes(png[at - 4 : at], "big")
    body = png[at + 4 : at + 4 + length]
    renamed = b"CanaryModel profile" + body[body.index(b"\x00") :]
    chunk = len(renamed).to_bytes(4, "big") + b"iCCP" + renamed
    chunk += zlib.crc32(b"iCCP" + renamed).to_bytes(4, "big")
    tagged = png[: at - 4] + chunk + png[at + 8 + length :]
    assert b"CanaryModel profile" in tagged
    result = scrub(tagged)
    assert b"CanaryModel" not in result.data and b"ICC profile\x00\x00" in result.data


def test_a_heic_profile_is_cleaned_on_its_way_to_jpeg(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pillow_heif

    pillow_heif.register_heif_opener()
    heic = _saved("HEIF", quality=90)
    result = scrub(heic)
    out = tmp_path / "out.jpg"
    out.write_bytes(result.data)
    assert result.media_type == "image/jpeg"
    assert_clean(out)
    assert _icc_report(out)["ICC_Profile:ProfileDescription"] == icc.DESCRIPTION


def test_a_pdf_colour_space_profile_is_cleaned(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pdf = pikepdf.new()
    pdf.add_blank_page()
    profile = pikepdf.Stream(pdf, zlib.compress(canary_icc_profile()))
    profile.Filter, profile.N, profile.Alternate = (
        pikepdf.Name.FlateDecode,
        3,
        pikepdf.Name.DeviceRGB,
    )
    space = pikepdf.Array([pikepdf.Name.ICCBased, profile])
    pdf.pages[0].Resources = pikepdf.Dictionary(ColorSpace=pikepdf.Dictionary(CS0=space))
    source = tmp_path / "in.pdf"
    pdf.save(source)

    result = scrub(source.read_bytes())
    with pikepdf.open(io.BytesIO(result.data)) as cleaned:
        stream = cleaned.pages[0].Resources.ColorSpace.CS0[1]
        kept = stream.read_bytes()
        assert stream.N == 3 and stream.Alternate == pikepdf.Name.DeviceRGB
    assert b"Canary" not in kept and b"CNRY" not in kept
    assert _lab(kept) == _lab(canary_icc_profile())


def test_an_unreadable_profile_is_dropped_and_the_photo_still_opens(tmp_path) -> None:  # type: ignore[no-untyped-def]
    damaged = bytearray(canary_icc_profile())
    damaged[128:132] = (10_000).to_bytes(4, "big")  # a tag table running off the end
    original = io.BytesIO()
    picture().save(original, "JPEG", icc_profile=bytes(damaged))
    result = scrub(original.getvalue())
    assert b"ICC_PROFILE" not in result.data and b"Canary" not in result.data
    with Image.open(io.BytesIO(result.data)) as cleaned:
        cleaned.load()
        assert "icc_profile" not in cleaned.info


def _with_tag(profile: bytes, signature: bytes, element: bytes) -> bytes:
    """``profile`` with one more tag, its element appended at the end."""
    count = int.from_bytes(profile[128:132], "big")
    table = bytearray((count + 1).to_bytes(4, "big"))
    for i in range(count):  # every element moves 12 bytes down, past the longer table
        entry = profile[132 + 12 * i : 144 + 12 * i]
        table += entry[:4] + (int.from_bytes(entry[4:8], "big") + 12).to_bytes(4, "big")
        table += entry[8:12]
    table += signature + (len(profile) + 12).to_bytes(4, "big") + len(element).to_bytes(4, "big")
    grown = bytearray(profile[:128] + table + profile[132 + 12 * count :] + element)
    grown[0:4] = len(grown).to_bytes(4, "big")
    return bytes(grown)


@pytest.mark.parametrize(
    ("signature", "segments_after"),
    [(b"meta", 1), (b"gamt", 3)],  # a vendor tag is dropped; a colour tag (gamut) is kept
)
def test_a_profile_split_over_several_jpeg_segments_is_put_back_together(  # type: ignore[no-untyped-def]
    tmp_path, signature, segments_after
) -> None:
    # CMYK print profiles are often larger than one JPEG segment (64 KB).
    profile = _with_tag(canary_icc_profile(), signature, b"mft2" + bytes(150_000))
    original = io.BytesIO()
    picture().save(original, "JPEG", icc_profile=profile)
    assert original.getvalue().count(b"ICC_PROFILE\x00") == 3
    source = tmp_path / "in.jpg"
    source.write_bytes(original.getvalue())
    tag(source, "-Comment=Canary Comment")

    result = scrub(source.read_bytes())
    assert result.data.count(b"ICC_PROFILE\x00") == segments_after
    assert b"Canary" not in result.data
    with Image.open(io.BytesIO(result.data)) as cleaned:
        cleaned.load()
        kept = cleaned.info["icc_profile"]
    assert (signature in kept[128 : 132 + 12 * 20]) == (signature == b"gamt")
    assert _lab(kept) == _lab(canary_icc_profile())
