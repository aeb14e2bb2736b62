"""Real files that carry identifying metadata, built at test time, and the exiftool check."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
import zlib
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
            info = zipfile.ZipInfo(name, date_time=(2024, 5, 1, 10, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED  # as Office writes them
            zf.writestr(info, body)
    return out.getvalue()


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


P = "http://schemas.openxmlformats.org/presentationml/2006/main"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
P15 = "http://schemas.microsoft.com/office/powerpoint/2012/main"
P188 = "http://schemas.microsoft.com/office/powerpoint/2018/8/main"


def pptx_parts(jpeg_bytes: bytes) -> dict[str, bytes]:
    """A presentation with legacy comments (commentAuthors.xml), modern comments
    (authors.xml) and a photo, as PowerPoint 365 writes them."""
    xml = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    ct = "application/vnd.openxmlformats-officedocument.presentationml"
    docx = docx_parts(b"")
    return {
        "[Content_Types].xml": (
            xml + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Default Extension="jpeg" ContentType="image/jpeg"/>'
            f'<Override PartName="/ppt/presentation.xml" ContentType="{ct}.presentation.main+xml"/>'
            f'<Override PartName="/ppt/slides/slide1.xml" ContentType="{ct}.slide+xml"/>'
            f'<Override PartName="/ppt/commentAuthors.xml" ContentType="{ct}.commentAuthors+xml"/>'
            f'<Override PartName="/ppt/comments/comment1.xml" ContentType="{ct}.comments+xml"/>'
            '<Override PartName="/ppt/authors.xml" ContentType="application/vnd.ms-powerpoint.authors+xml"/>'
            '<Override PartName="/ppt/comments/modernComment_100_1.xml"'
            ' ContentType="application/vnd.ms-powerpoint.comments+xml"/>'
            '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
            "</Types>"
        ).encode(),
        "_rels/.rels": docx["_rels/.rels"].replace(b"word/document.xml", b"ppt/presentation.xml"),
        "docProps/core.xml": docx["docProps/core.xml"],
        "docProps/app.xml": docx["docProps/app.xml"],
        "ppt/presentation.xml": (
            xml + f'<p:presentation xmlns:p="{P}" xmlns:r="{R}">'
            '<p:sldIdLst><p:sldId id="256" r:id="rId2"/></p:sldIdLst>'
            '<p:sldSz cx="9144000" cy="6858000"/><p:notesSz cx="6858000" cy="9144000"/>'
            "</p:presentation>"
        ).encode(),
        "ppt/_rels/presentation.xml.rels": (
            xml + f'<Relationships xmlns="{PKG_REL}">'
            f'<Relationship Id="rId2" Type="{OFFICE_REL}/slide" Target="slides/slide1.xml"/>'
            f'<Relationship Id="rId3" Type="{OFFICE_REL}/commentAuthors" Target="commentAuthors.xml"/>'
            '<Relationship Id="rId4" Type="http://schemas.microsoft.com/office/2018/10/relationships/authors"'
            ' Target="authors.xml"/>'
            "</Relationships>"
        ).encode(),
        "ppt/commentAuthors.xml": (
            xml + f'<p:cmAuthorLst xmlns:p="{P}">'
            '<p:cmAuthor id="1" name="Canary Reviewer" initials="CR" lastIdx="1" clrIdx="0">'
            '<p:extLst><p:ext uri="{19B8F6BF-5375-455C-9EA6-DF929625EA0E}">'
            f'<p15:presenceInfo xmlns:p15="{P15}" userId="canary@example.test" providerId="AD"/>'
            "</p:ext></p:extLst></p:cmAuthor></p:cmAuthorLst>"
        ).encode(),
        "ppt/authors.xml": (
            xml + f'<p188:authorLst xmlns:p="{P}" xmlns:p188="{P188}">'
            '<p188:author id="{0B5D1C0E-3C4A-4E0C-9C22-6D3F2A1B7E01}" name="Canary Author"'
            ' initials="CA" userId="canary@example.test" providerId="AD"/></p188:authorLst>'
        ).encode(),
        "ppt/slides/slide1.xml": (
            xml + f'<p:sld xmlns:p="{P}" xmlns:a="{A}" xmlns:r="{R}"><p:cSld><p:spTree>'
            "<p:sp><p:txBody><a:bodyPr/><a:p><a:r><a:t>Licence plate seen twice.</a:t></a:r>"
            "</a:p></p:txBody></p:sp>"
            '<p:pic><p:blipFill><a:blip r:embed="rId2"/></p:blipFill></p:pic>'
            "</p:spTree></p:cSld></p:sld>"
        ).encode(),
        "ppt/slides/_rels/slide1.xml.rels": (
            xml + f'<Relationships xmlns="{PKG_REL}">'
            f'<Relationship Id="rId1" Type="{OFFICE_REL}/comments" Target="../comments/comment1.xml"/>'
            f'<Relationship Id="rId2" Type="{OFFICE_REL}/image" Target="../media/image1.jpeg"/>'
            '<Relationship Id="rId3" Type="http://schemas.microsoft.com/office/2018/10/relationships/comments"'
            ' Target="../comments/modernComment_100_1.xml"/>'
            "</Relationships>"
        ).encode(),
        "ppt/comments/comment1.xml": (
            xml + f'<p:cmLst xmlns:p="{P}"><p:cm authorId="1" dt="2024-05-02T11:00:00.000"'
            ' idx="1"><p:pos x="10" y="10"/><p:text>Check the plate.</p:text></p:cm></p:cmLst>'
        ).encode(),
        "ppt/comments/modernComment_100_1.xml": (
            xml + f'<p188:cmLst xmlns:a="{A}" xmlns:p188="{P188}">'
            '<p188:cm id="{6A1E0E6B-6C7A-4B4F-8E0A-3C2B1D0F9A11}"'
            ' authorId="{0B5D1C0E-3C4A-4E0C-9C22-6D3F2A1B7E01}" created="2024-05-02T11:05:00.000">'
            "<p188:txBody><a:bodyPr/><a:p><a:r><a:t>Same van as last week.</a:t></a:r></a:p>"
            "</p188:txBody></p188:cm></p188:cmLst>"
        ).encode(),
        "ppt/media/image1.jpeg": jpeg_bytes,
    }


def _mluc(text: str) -> bytes:
    encoded = text.encode("utf-16-be")
    return (
        b"mluc" + bytes(4) + (1).to_bytes(4, "big") + (12).to_bytes(4, "big") + b"enUS"
        + len(encoded).to_bytes(4, "big") + (28).to_bytes(4, "big") + encoded
    )  # fmt: skip


def canary_icc_profile() -> bytes:
    """An sRGB profile as a phone might embed it: the colours of lcms's sRGB, but the
    description, device maker and model (header and dmnd/dmdd tags), copyright and a
    vendor's private make-and-model tag all name the device."""
    from PIL import ImageCms

    base = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    count = int.from_bytes(base[128:132], "big")
    tags = {}
    for i in range(count):
        entry = base[132 + 12 * i : 144 + 12 * i]
        offset, size = int.from_bytes(entry[4:8], "big"), int.from_bytes(entry[8:12], "big")
        tags[entry[:4]] = base[offset : offset + size]
    tags[b"desc"] = _mluc("CanaryModel camera profile")
    tags[b"cprt"] = _mluc("Copyright Canary Company")
    tags[b"dmnd"] = _mluc("CanaryMake")
    tags[b"dmdd"] = _mluc("CanaryModel")
    tags[b"mmod"] = b"mmod" + bytes(4) + b"CanaryModel".ljust(32, b"\x00")
    header = bytearray(base[:128])
    header[48:52], header[52:56], header[80:84] = b"CNRY", b"CMDL", b"CNRY"
    table, body = bytearray(len(tags).to_bytes(4, "big")), bytearray()
    start = 128 + 4 + 12 * len(tags)
    for signature, element in tags.items():
        table += (
            signature + (start + len(body)).to_bytes(4, "big") + len(element).to_bytes(4, "big")
        )
        body += element + bytes(-len(element) % 4)
    header[0:4] = (start + len(body)).to_bytes(4, "big")
    return bytes(header + table + body)


def object_stream_bomb(inflated: int) -> bytes:
    """A small PDF whose one object stream inflates to ``inflated`` bytes when read."""
    header, content = b"3 0 ", b"<< /A 1 >>" + b" " * inflated
    packer = zlib.compressobj(9)
    data = packer.compress(header + content) + packer.flush()
    out = bytearray(b"%PDF-1.5\n")
    offsets = {1: len(out)}
    out += b"1 0 obj << /Type /Catalog /Pages 2 0 R /X 3 0 R >> endobj\n"
    offsets[2] = len(out)
    out += b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    offsets[4] = len(out)
    out += b"4 0 obj << /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>" % (
        len(header),
        len(data),
    )
    out += b" stream\n" + data + b"\nendstream endobj\n"
    offsets[5] = len(out)
    rows = b"\x00" + bytes(4) + b"\xff\xff"  # object 0: free
    for number in range(1, 6):
        if number == 3:  # in object stream 4, index 0
            rows += b"\x02" + (4).to_bytes(4, "big") + (0).to_bytes(2, "big")
        else:
            rows += b"\x01" + offsets[number].to_bytes(4, "big") + b"\x00\x00"
    out += b"5 0 obj << /Type /XRef /Size 6 /W [1 4 2] /Root 1 0 R /Length %d >>" % len(rows)
    out += b" stream\n" + rows + b"\nendstream endobj\nstartxref\n%d\n%%%%EOF\n" % offsets[5]
    return bytes(out)
