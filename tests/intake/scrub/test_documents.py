"""PDF and Office documents: no author, tool, IDs, attachments, scripts or revision data left."""

from __future__ import annotations

import io
import zipfile

import pikepdf
import pytest
from lxml import etree

from tests.intake.scrub.samples import (
    CANARIES,
    P15,
    P188,
    P,
    assert_clean,
    docx_parts,
    exif_report,
    pptx_parts,
    tagged_jpeg,
    tagged_pdf,
    unzip,
    zip_bytes,
)
from tipline.intake.scrub import ScrubError, scrub

pytestmark = pytest.mark.embedded


def test_pdf_loses_info_xmp_ids_attachments_scripts_and_photo_exif(tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = tagged_pdf(tmp_path, tagged_jpeg(tmp_path).read_bytes())
    before = str(exif_report(source))
    assert "Canary Author" in before and "Canary Creator" in before  # the test has teeth
    with pikepdf.open(source) as original:
        assert len(original.attachments) == 1 and "/T" in original.pages[0].Annots[0]

    result = scrub(source.read_bytes())
    out = tmp_path / "out.pdf"
    out.write_bytes(result.data)
    assert (result.media_type, result.extension) == ("application/pdf", "pdf")
    report = assert_clean(out)
    assert not [
        k for k in report if k.startswith(("PDF:Author", "PDF:Creator", "PDF:Producer", "XMP"))
    ]

    with pikepdf.open(out) as pdf:
        assert "/Info" not in pdf.trailer and "/Metadata" not in pdf.Root
        assert "/OpenAction" not in pdf.Root
        assert len(pdf.attachments) == 0
        assert bytes(pdf.trailer.ID[0]) != b"CANARYSN4242abcd"
        page = pdf.pages[0]
        assert "/T" not in page.Annots[0] and str(page.Annots[0].Contents) == "see here"
        photo = page.Resources.XObject.Im0.read_raw_bytes()
        assert photo.startswith(b"\xff\xd8") and b"Exif" not in photo
        for obj in pdf.objects:  # decompressed streams too, not just the file's bytes
            if isinstance(obj, pikepdf.Stream):
                body = obj.read_raw_bytes()
                if obj.get("/Filter") == pikepdf.Name.FlateDecode:
                    body += obj.read_bytes()
                assert not [c for c in CANARIES if c.encode() in body]


def test_docx_loses_properties_comment_authors_revisions_and_timestamps(tmp_path) -> None:  # type: ignore[no-untyped-def]
    original = zip_bytes(docx_parts(tagged_jpeg(tmp_path).read_bytes()))
    source = tmp_path / "tip.docx"
    source.write_bytes(original)
    assert "Canary Author" in str(exif_report(source))  # the test has teeth

    result = scrub(original)
    out = tmp_path / "out.docx"
    out.write_bytes(result.data)
    assert result.extension == "docx"
    assert_clean(out)

    parts = unzip(result.data)
    everything = b"".join(parts.values())
    for canary in CANARIES:
        assert canary.encode() not in everything, canary
    assert b"rsid" not in everything
    assert b"2024-05-0" not in everything  # comment and revision dates
    assert b"file:///" not in everything  # the attached template's path
    assert "docProps/custom.xml" not in parts
    assert b"custom" not in parts["[Content_Types].xml"] + parts["_rels/.rels"]
    assert b'w:author="Anonymous"' in parts["word/comments.xml"]
    assert b"The truck comes at night." in parts["word/document.xml"]
    assert b"Exif" not in parts["word/media/image1.jpeg"]
    with zipfile.ZipFile(io.BytesIO(result.data)) as zf:
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert zf.testzip() is None
        assert zf.namelist()[0] == "[Content_Types].xml"


def test_docx_cleaning_is_idempotent_and_still_a_docx(tmp_path) -> None:  # type: ignore[no-untyped-def]
    once = scrub(zip_bytes(docx_parts(tagged_jpeg(tmp_path).read_bytes())))
    twice = scrub(once.data)
    assert twice.media_type == once.media_type and twice.data == once.data


def test_xlsx_loses_creator_and_comment_authors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    parts = docx_parts(b"")
    xml = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    book = {
        "[Content_Types].xml": parts["[Content_Types].xml"].replace(
            b"word/document", b"xl/workbook"
        ),
        "_rels/.rels": parts["_rels/.rels"].replace(b"word/document", b"xl/workbook"),
        "docProps/core.xml": parts["docProps/core.xml"],
        "xl/workbook.xml": (
            f'{xml}<workbook xmlns="{main}"><mc:AlternateContent xmlns:mc='
            '"http://schemas.openxmlformats.org/markup-compatibility/2006"><mc:Choice Requires="x15">'
            '<x15ac:absPath xmlns:x15ac="http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac"'
            ' url="C:\\Users\\CanaryTemplate\\"/></mc:Choice></mc:AlternateContent></workbook>'
        ).encode(),
        "xl/comments1.xml": (
            f'{xml}<comments xmlns="{main}"><authors><author>Canary Reviewer</author></authors>'
            "<commentList/></comments>"
        ).encode(),
    }
    result = scrub(zip_bytes(book))
    out = tmp_path / "out.xlsx"
    out.write_bytes(result.data)
    assert (result.media_type, result.extension) == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    )
    assert_clean(out)
    parts = unzip(result.data)
    assert b"<author>Anonymous</author>" in parts["xl/comments1.xml"]
    assert b"absPath" not in parts["xl/workbook.xml"]
    assert not [c for c in CANARIES if c.encode() in b"".join(parts.values())]


def test_pptx_loses_comment_authors_legacy_and_modern(tmp_path) -> None:  # type: ignore[no-untyped-def]
    original = zip_bytes(pptx_parts(tagged_jpeg(tmp_path).read_bytes()))
    source = tmp_path / "deck.pptx"
    source.write_bytes(original)
    before = unzip(original)
    # The test has teeth: the authors are there, where exiftool does not look.
    assert b'name="Canary Reviewer"' in before["ppt/commentAuthors.xml"]
    assert b"canary@example.test" in before["ppt/authors.xml"]
    assert "Canary Author" in str(exif_report(source))  # docProps, which exiftool reads

    result = scrub(original)
    out = tmp_path / "out.pptx"
    out.write_bytes(result.data)
    assert (result.media_type, result.extension) == (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "pptx",
    )
    assert_clean(out)

    parts = unzip(result.data)
    everything = b"".join(parts.values())
    assert not [c for c in CANARIES if c.encode() in everything]
    assert b"2024-05-0" not in everything  # comment dates
    authors = etree.fromstring(parts["ppt/commentAuthors.xml"])
    (legacy,) = authors.iter(f"{{{P}}}cmAuthor")
    assert (legacy.get("name"), legacy.get("initials")) == ("Anonymous", "A")
    assert legacy.get("id") == "1"  # comments still point at their author
    (presence,) = authors.iter(f"{{{P15}}}presenceInfo")
    assert presence.get("userId") == "" and presence.get("providerId") == "None"
    (modern,) = etree.fromstring(parts["ppt/authors.xml"]).iter(f"{{{P188}}}author")
    assert (modern.get("name"), modern.get("initials"), modern.get("userId")) == (
        "Anonymous",
        "A",
        "",
    )
    (comment,) = etree.fromstring(parts["ppt/comments/comment1.xml"]).iter(f"{{{P}}}cm")
    assert comment.get("authorId") == "1" and comment.get("dt") == "1980-01-01T00:00:00Z"
    assert b"Check the plate." in parts["ppt/comments/comment1.xml"]
    assert b"Same van as last week." in parts["ppt/comments/modernComment_100_1.xml"]
    assert b"Licence plate seen twice." in parts["ppt/slides/slide1.xml"]
    assert b"Exif" not in parts["ppt/media/image1.jpeg"]
    assert scrub(result.data).data == result.data


def test_plain_text_is_kept_as_written() -> None:
    text = "Le camion passe le mardi soir, rue Sainte-Catherine. ✓\n".encode()
    result = scrub(text)
    assert (result.media_type, result.extension, result.data) == ("text/plain", "txt", text)


def test_a_pdf_placed_as_a_picture_in_a_document_is_cleaned_too(tmp_path) -> None:  # type: ignore[no-untyped-def]
    placed = tagged_pdf(tmp_path, tagged_jpeg(tmp_path).read_bytes()).read_bytes()
    assert b"Canary Author" in placed  # the test has teeth
    parts = docx_parts(b"")
    parts["word/media/image2.pdf"] = placed  # as Word for Mac stores a dragged-in PDF
    result = scrub(zip_bytes(parts))
    cleaned = unzip(result.data)["word/media/image2.pdf"]
    out = tmp_path / "placed.pdf"
    out.write_bytes(cleaned)
    assert_clean(out)
    with pikepdf.open(out) as pdf:
        assert "/Info" not in pdf.trailer and len(pdf.attachments) == 0


def test_a_tiff_picture_in_a_document_is_refused_with_a_message(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    from tests.intake.scrub.samples import PHOTO_TAGS, picture, tag

    tiff = tmp_path / "scan.tif"
    picture().save(tiff, "TIFF")
    tag(tiff, *PHOTO_TAGS)
    assert "GPS" in str(exif_report(tiff))  # a TIFF carries EXIF and GPS as a photo does
    assert Image.open(tiff).format == "TIFF"
    parts = docx_parts(b"")
    parts["word/media/image3.tiff"] = tiff.read_bytes()
    with pytest.raises(ScrubError) as refused:
        scrub(zip_bytes(parts))
    assert str(refused.value) == (
        "The document contains a picture in a format we cannot clean (TIFF). Please insert "
        "it as JPEG or PNG, or save the document as PDF, and send it again."
    )
