"""Real files that carry identifying metadata, built at test time, and the exiftool check."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from PIL import Image

# Values a tipster's device would write; none may survive scrubbing.
CANARIES = (
    "Canary Artist",
    "Canary Creator",
    "Canary Byline",
    "CANARYSN4242",
    "CanaryMake",
    "CanaryModel",
    "Canary Comment",
    "Canary Author",
    "Canary Reviewer",
    "Canary Company",
    "canary@example.test",
    "CanaryTemplate",
    "canary-secret-attachment",
)
GPS = {"lat": "45.508840", "lon": "73.587810"}
SIZE = (64, 48)


def exiftool_path() -> str:
    path = shutil.which("exiftool")
    if path is None:
        pytest.fail(
            "exiftool is required by the scrub tests: install the Debian package "
            "libimage-exiftool-perl (CI installs it in .ci/run)",
            pytrace=False,
        )
    return path


def tag(path: Path, *args: str) -> None:
    subprocess.run(
        [exiftool_path(), "-q", "-overwrite_original", *args, str(path)],
        check=True,
        capture_output=True,
    )


def exif_report(path: Path) -> dict[str, object]:
    out = subprocess.run(
        [exiftool_path(), "-j", "-a", "-u", "-G1", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)[0]


PHOTO_TAGS = (
    f"-GPSLatitude={GPS['lat']}",
    "-GPSLatitudeRef=N",
    f"-GPSLongitude={GPS['lon']}",
    "-GPSLongitudeRef=W",
    "-Make=CanaryMake",
    "-Model=CanaryModel",
    "-SerialNumber=CANARYSN4242",
    "-Artist=Canary Artist",
    "-XMP-dc:Creator=Canary Creator",
)


def assert_clean(path: Path) -> dict[str, object]:
    """No canary in exiftool's full report nor anywhere in the raw bytes; no GPS tag at all."""
    report = exif_report(path)
    dump = json.dumps(report)
    raw = path.read_bytes()
    for canary in CANARIES:
        assert canary not in dump, f"{canary!r} left in exiftool output: {dump}"
        assert canary.encode() not in raw, f"{canary!r} left in the bytes of {path.name}"
    assert not [k for k in report if "GPS" in k or "Serial" in k], report
    assert "45 deg 30" not in dump and "73 deg 35" not in dump, dump
    return report


def picture(mode: str = "RGB", size: tuple[int, int] = SIZE) -> Image.Image:
    image = Image.new(mode, size, "white")
    for x in range(size[0] // 2):  # asymmetric content, so rotation is visible
        for y in range(size[1] // 3):
            image.putpixel((x, y), (200, 30, 30) if mode == "RGB" else 80)
    return image


def tagged_jpeg(tmp_path: Path, *, orientation: int = 1, size: tuple[int, int] = SIZE) -> Path:
    from PIL import ImageCms

    path = tmp_path / "camera.jpg"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    picture(size=size).save(path, "JPEG", quality=90, icc_profile=icc)
    tag(
        path,
        *PHOTO_TAGS,
        "-IPTC:By-line=Canary Byline",
        "-Comment=Canary Comment",
        "-ExifIFD:BodySerialNumber=CANARYSN4242",
        f"-Orientation#={orientation}",
    )
    return path


def tagged_png(tmp_path: Path) -> Path:
    from PIL.PngImagePlugin import PngInfo

    path = tmp_path / "screenshot.png"
    info = PngInfo()
    info.add_text("Author", "Canary Author")
    info.add_text("Comment", "Canary Comment", zip=True)
    info.add_itxt("Description", "Canary Creator")
    picture().save(path, "PNG", pnginfo=info)
    tag(path, *PHOTO_TAGS, "-PNG:CreationTime=2024:05:01 10:00:00")
    return path


def tagged_webp(tmp_path: Path) -> Path:
    path = tmp_path / "photo.webp"
    exif = Image.Exif()
    exif[0x010F] = "CanaryMake"
    exif[0x013B] = "Canary Artist"
    picture().save(path, "WEBP", quality=90, exif=exif.tobytes())
    tag(path, *PHOTO_TAGS)
    return path


def tagged_heic(tmp_path: Path) -> Path:
    import pillow_heif

    pillow_heif.register_heif_opener()
    path = tmp_path / "IMG_0001.heic"
    exif = Image.Exif()
    exif[0x010F] = "CanaryMake"
    exif[0x0110] = "CanaryModel"
    exif[0x013B] = "Canary Artist"
    picture().save(path, "HEIF", quality=90, exif=exif.tobytes())
    tag(path, *PHOTO_TAGS)
    return path


def tagged_pdf(tmp_path: Path, jpeg_bytes: bytes) -> Path:
    import pikepdf
    from pikepdf import Array, Dictionary, Name, String

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    page = pdf.pages[0]
    with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
        meta["dc:creator"] = ["Canary Creator"]
        meta["pdf:Producer"] = "Canary Company PDF"
    pdf.docinfo["/Author"] = "Canary Author"
    pdf.docinfo["/Creator"] = "CanaryModel Writer"
    pdf.docinfo["/Producer"] = "Canary Company PDF"
    attachment = pikepdf.AttachedFileSpec(pdf, b"canary-secret-attachment", filename="notes.txt")
    pdf.attachments["notes.txt"] = attachment
    # A photo placed on the page, with its EXIF (GPS, serial) inside the image stream.
    photo = pikepdf.Stream(pdf, jpeg_bytes)
    photo.Type, photo.Subtype, photo.Filter = Name.XObject, Name.Image, Name.DCTDecode
    photo.Width, photo.Height = SIZE
    photo.ColorSpace, photo.BitsPerComponent = Name.DeviceRGB, 8
    page.Resources = Dictionary(XObject=Dictionary(Im0=photo))
    page.Contents = pdf.make_stream(b"q 64 0 0 48 10 10 cm /Im0 Do Q")
    page.Annots = pdf.make_indirect(
        Array(
            [
                Dictionary(
                    Type=Name.Annot,
                    Subtype=Name.Text,
                    Rect=Array([0, 0, 10, 10]),
                    T=String("Canary Reviewer"),
                    Contents=String("see here"),
                )
            ]
        )
    )
    pdf.Root.OpenAction = Dictionary(S=Name.JavaScript, JS=String("app.alert('hi')"))
    pdf.trailer.ID = Array([String(b"CANARYSN4242abcd"), String(b"CANARYSN4242abcd")])
    path = tmp_path / "statement.pdf"
    pdf.save(path, static_id=True)
    return path


W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def docx_parts(jpeg_bytes: bytes) -> dict[str, bytes]:
    xml = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    ct = "application/vnd.openxmlformats-officedocument"
    return {
        "[Content_Types].xml": (
            xml + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Default Extension="jpeg" ContentType="image/jpeg"/>'
            f'<Override PartName="/word/document.xml" ContentType="{ct}.wordprocessingml.document.main+xml"/>'
            f'<Override PartName="/word/comments.xml" ContentType="{ct}.wordprocessingml.comments+xml"/>'
            f'<Override PartName="/word/settings.xml" ContentType="{ct}.wordprocessingml.settings+xml"/>'
            '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            f'<Override PartName="/docProps/app.xml" ContentType="{ct}.extended-properties+xml"/>'
            f'<Override PartName="/docProps/custom.xml" ContentType="{ct}.custom-properties+xml"/>'
            "</Types>"
        ).encode(),
        "_rels/.rels": (
            xml + f'<Relationships xmlns="{PKG_REL}">'
            f'<Relationship Id="rId1" Type="{OFFICE_REL}/officeDocument" Target="word/document.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
            f'<Relationship Id="rId3" Type="{OFFICE_REL}/extended-properties" Target="docProps/app.xml"/>'
            f'<Relationship Id="rId4" Type="{OFFICE_REL}/custom-properties" Target="docProps/custom.xml"/>'
            "</Relationships>"
        ).encode(),
        "docProps/core.xml": (
            xml
            + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
            ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"'
            ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<dc:creator>Canary Author</dc:creator><cp:lastModifiedBy>Canary Reviewer</cp:lastModifiedBy>"
            '<dcterms:created xsi:type="dcterms:W3CDTF">2024-05-01T10:00:00Z</dcterms:created>'
            "</cp:coreProperties>"
        ).encode(),
        "docProps/app.xml": (
            xml
            + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
            "<Template>CanaryTemplate.dotm</Template><Company>Canary Company</Company>"
            "<Application>Microsoft Office Word</Application></Properties>"
        ).encode(),
        "docProps/custom.xml": (
            xml
            + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"'
            ' xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
            '<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="Owner">'
            "<vt:lpwstr>canary@example.test</vt:lpwstr></property></Properties>"
        ).encode(),
        "word/document.xml": (
            xml + f'<w:document xmlns:w="{W}" xmlns:r="{R}"><w:body>'
            '<w:p w:rsidR="00A1B2C3" w:rsidRDefault="00A1B2C3"><w:r><w:t>The truck comes at night.</w:t></w:r>'
            '<w:ins w:id="1" w:author="Canary Reviewer" w:date="2024-05-02T11:00:00Z">'
            "<w:r><w:t> Every Tuesday.</w:t></w:r></w:ins>"
            '<w:commentRangeStart w:id="0"/><w:r><w:commentReference w:id="0"/></w:r></w:p>'
            "</w:body></w:document>"
        ).encode(),
        "word/comments.xml": (
            xml + f'<w:comments xmlns:w="{W}"><w:comment w:id="0" w:author="Canary Author"'
            ' w:initials="CA" w:date="2024-05-02T11:00:00Z"><w:p><w:r><w:t>check</w:t></w:r></w:p>'
            "</w:comment></w:comments>"
        ).encode(),
        "word/settings.xml": (
            xml + f'<w:settings xmlns:w="{W}" xmlns:r="{R}"><w:attachedTemplate r:id="rId1"/>'
            '<w:rsids><w:rsidRoot w:val="00A1B2C3"/><w:rsid w:val="00A1B2C3"/></w:rsids>'
            "</w:settings>"
        ).encode(),
        "word/_rels/settings.xml.rels": (
            xml + f'<Relationships xmlns="{PKG_REL}">'
            f'<Relationship Id="rId1" Type="{OFFICE_REL}/attachedTemplate"'
            ' Target="file:///C:/Users/CanaryTemplate/Normal.dotm" TargetMode="External"/>'
            "</Relationships>"
        ).encode(),
        "word/_rels/document.xml.rels": (
            xml + f'<Relationships xmlns="{PKG_REL}">'
            f'<Relationship Id="rId1" Type="{OFFICE_REL}/comments" Target="comments.xml"/>'
            f'<Relationship Id="rId2" Type="{OFFICE_REL}/settings" Target="settings.xml"/>'
            f'<Relationship Id="rId3" Type="{OFFICE_REL}/image" Target="media/image1.jpeg"/>'
            "</Relationships>"
        ).encode(),
        "word/media/image1.jpeg": jpeg_bytes,
    }


def zip_bytes(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in parts.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 5, 1, 10, 0, 0)), body)
    return out.getvalue()


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}
