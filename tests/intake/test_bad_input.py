"""Damaged, hostile and odd files through the real web form (POST /tip).

Each refusal must say what happened and what to do, keep what the tipster typed, answer
with the right status (never a 500), and store nothing at all: no tip row, no sealed item,
no outbox entry, no file in the attachment store. What is accepted must be stored clean.
test_attachments.py covers the happy path, unsupported types and the size limits per file
and per tip; this file covers the rest of what arrives in real life.
"""

from __future__ import annotations

import html
import io
import re
import zipfile

import pikepdf
import pytest
from sqlalchemy import func, select

from tests.intake.scrub.samples import (
    CANARIES,
    assert_clean,
    docx_parts,
    tagged_jpeg,
    tagged_pdf,
    tagged_png,
    zip_bytes,
)
from tests.support.forms import csrf_token, reference_from, sign_in
from tipline.models import OutboxEntry, SealedItem, Tip, TipKeyGrant

pytestmark = pytest.mark.embedded

DESCRIPTION = "The van is parked behind the arena every night."
JPEG_DAMAGED = "The JPEG image is damaged. Please send the original photo again."
JPEG_TRUNCATED = "The JPEG image is incomplete (it was cut short). Please send it again."
PNG_TRUNCATED = "The PNG image is incomplete (it was cut short). Please send it again."
PNG_CHECKSUM = "The PNG image is damaged (checksum mismatch)."
NOT_UTF8 = (
    "Text files must be UTF-8 (the file has bytes that are not UTF-8 text). "
    "Please save it as UTF-8 and send it again."
)


def _post(client, files):  # type: ignore[no-untyped-def]
    data = {
        "category": "weapons",
        "zone": "on-north",
        "description": DESCRIPTION,
        "lang": "en",
        "csrf_token": csrf_token(client, "/tip"),
        "attachments": files,
    }
    return client.post("/tip", data=data, content_type="multipart/form-data")


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.get_data(as_text=True))


def _stored_files(runtime) -> list[str]:  # type: ignore[no-untyped-def]
    root = runtime.settings.data_dir / "attachments"
    if not root.exists():
        return []
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]


def _assert_nothing_stored(runtime) -> None:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        for model in (Tip, SealedItem, TipKeyGrant, OutboxEntry):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model
    assert _stored_files(runtime) == []


def _refused(client, runtime, files, status: int, message: str) -> str:  # type: ignore[no-untyped-def]
    response = _post(client, files)
    page = _text(response)
    assert response.status_code == status, page
    assert message in page
    assert DESCRIPTION in page  # what the tipster wrote is kept for them to send again
    _assert_nothing_stored(runtime)
    return page


def _downloads(app, world, drain, reference: str) -> tuple[str, list]:  # type: ignore[no-untyped-def]
    """The tip's page and its attachments as the unit's investigator gets them."""
    drain()  # routed to the unit's queue by the worker
    staff = app.test_client()
    sign_in(staff, world["north"])
    page = staff.get(f"/staff/tips/{reference}").get_data(as_text=True)
    links = sorted(set(re.findall(rf"/staff/tips/{reference}/attachments/[0-9a-f]{{32}}", page)))
    return html.unescape(page), [staff.get(link) for link in links]


def _damaged_jpeg(tmp_path) -> bytes:  # type: ignore[no-untyped-def]
    photo = tagged_jpeg(tmp_path).read_bytes()
    tables = photo.index(b"\xff\xdb")
    return photo[:tables] + b"junk between segments" + photo[tables:]


def _png_with_bad_checksum(tmp_path) -> bytes:  # type: ignore[no-untyped-def]
    png = bytearray(tagged_png(tmp_path).read_bytes())
    png[png.index(b"IDAT") + 10] ^= 0xFF
    return bytes(png)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(
            lambda tmp: tagged_jpeg(tmp).read_bytes()[:-3000], JPEG_TRUNCATED, id="truncated-jpeg"
        ),
        pytest.param(_damaged_jpeg, JPEG_DAMAGED, id="corrupt-jpeg"),
        pytest.param(
            lambda tmp: tagged_png(tmp).read_bytes()[:-40], PNG_TRUNCATED, id="truncated-png"
        ),
        pytest.param(_png_with_bad_checksum, PNG_CHECKSUM, id="corrupt-png"),
    ],
)
def test_a_damaged_image_refuses_the_tip_with_a_message_and_stores_nothing(  # type: ignore[no-untyped-def]
    client, runtime, tmp_path, make, message
) -> None:
    _refused(client, runtime, [(io.BytesIO(make(tmp_path)), "photo.jpg")], 422, message)


def test_one_bad_file_among_good_ones_stores_none_of_them(client, runtime, tmp_path) -> None:  # type: ignore[no-untyped-def]
    files = [
        (io.BytesIO(b"first, a good note\n"), "note.txt"),
        (io.BytesIO(tagged_jpeg(tmp_path).read_bytes()), "good.jpg"),
        (io.BytesIO(_damaged_jpeg(tmp_path)), "bad.jpg"),
    ]
    _refused(client, runtime, files, 422, JPEG_DAMAGED)


def test_an_empty_file_is_refused(client, runtime) -> None:  # type: ignore[no-untyped-def]
    _refused(client, runtime, [(io.BytesIO(b""), "empty.jpg")], 422, "The file is empty.")


def test_a_jpeg_zip_polyglot_is_stored_without_its_zip(
    app, client, runtime, world, drain, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    hidden = zip_bytes({"secret/plan.txt": b"Canary Author wrote this plan"})
    polyglot = tagged_jpeg(tmp_path).read_bytes() + hidden
    assert zipfile.is_zipfile(io.BytesIO(polyglot))  # the test has teeth: it opens as a zip
    response = _post(client, [(io.BytesIO(polyglot), "holiday.jpg")])
    assert response.status_code == 200, _text(response)
    _, downloads = _downloads(app, world, drain, reference_from(response.get_data(as_text=True)))
    (photo,) = downloads
    assert photo.mimetype == "image/jpeg"
    assert not zipfile.is_zipfile(io.BytesIO(photo.data))
    assert b"PK\x03\x04" not in photo.data and b"PK\x05\x06" not in photo.data
    assert photo.data.endswith(b"\xff\xd9")  # nothing after the end of the picture
    served = tmp_path / "served.jpg"
    served.write_bytes(photo.data)
    assert_clean(served)


def _ratio_bomb() -> bytes:
    parts = docx_parts(b"")
    parts["word/media/image1.bin"] = bytes(64 * 1024 * 1024)  # 64 MB of zeros in ~64 KB
    return zip_bytes(parts)


def _nested_bomb() -> bytes:
    inner = docx_parts(b"")
    inner.update({f"word/media/blank{i}.bin": bytes(1024 * 1024) for i in range(40)})
    inner_docx = zip_bytes(inner)  # 40 MB inside, fine on its own
    outer = docx_parts(b"")
    outer.update({f"word/embeddings/copy{i}.docx": inner_docx for i in range(3)})
    return zip_bytes(outer)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(
            _ratio_bomb,
            "The document cannot be cleaned safely: a part of it is compressed more than "
            "100 times. Please save it again and send the new file.",
            id="one-part-expands-a-thousand-times",
        ),
        pytest.param(
            _nested_bomb,
            "The document is too large once uncompressed (over 100 MB).",
            id="documents-embedded-in-a-document",
        ),
    ],
)
def test_a_zip_bomb_docx_is_refused(client, runtime, make, message) -> None:  # type: ignore[no-untyped-def]
    bomb = make()
    assert len(bomb) < 2 * 1024 * 1024  # small enough to upload, huge once inflated
    _refused(client, runtime, [(io.BytesIO(bomb), "report.docx")], 422, message)


def _broken_xref(tmp_path) -> bytes:  # type: ignore[no-untyped-def]
    """A tagged PDF whose cross-reference table points at the wrong places."""
    source = tagged_pdf(tmp_path, tagged_jpeg(tmp_path).read_bytes())
    pdf = pikepdf.open(source)
    out = io.BytesIO()
    pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable, static_id=True)
    data = out.getvalue()
    table = data.rindex(b"xref\n")
    entries = re.sub(rb"\d{10} 00000 n", b"0000000009 00000 n", data[table:])
    return data[:table] + entries


def test_a_pdf_with_a_broken_xref_is_repaired_and_stored_clean(  # type: ignore[no-untyped-def]
    app, client, runtime, world, drain, tmp_path
) -> None:
    broken = _broken_xref(tmp_path)
    assert b"Canary Author" in broken  # the test has teeth
    with pytest.raises(pikepdf.PdfError):  # a strict reader gives up on it
        pikepdf.open(io.BytesIO(broken), attempt_recovery=False).pages[0].obj.keys()
    response = _post(client, [(io.BytesIO(broken), "statement.pdf")])
    assert response.status_code == 200, _text(response)
    _, downloads = _downloads(app, world, drain, reference_from(response.get_data(as_text=True)))
    (document,) = downloads
    served = tmp_path / "served.pdf"
    served.write_bytes(document.data)
    assert_clean(served)
    with pikepdf.open(served) as cleaned:
        assert "/Info" not in cleaned.trailer and "/Metadata" not in cleaned.Root
        assert len(cleaned.pages) == 1 and len(cleaned.attachments) == 0


def test_a_pdf_cut_in_half_is_repaired_or_refused_never_stored_dirty(  # type: ignore[no-untyped-def]
    app, client, runtime, world, drain, tmp_path
) -> None:
    whole = tagged_pdf(tmp_path, tagged_jpeg(tmp_path).read_bytes()).read_bytes()
    response = _post(client, [(io.BytesIO(whole[: len(whole) // 2]), "statement.pdf")])
    page = _text(response)
    if response.status_code == 422:
        assert "The PDF document is damaged" in page
        _assert_nothing_stored(runtime)
        return
    assert response.status_code == 200, page
    _, downloads = _downloads(app, world, drain, reference_from(response.get_data(as_text=True)))
    served = tmp_path / "served.pdf"
    served.write_bytes(downloads[0].data)
    assert_clean(served)


def test_a_zero_page_pdf_is_refused_with_a_message(client, runtime) -> None:  # type: ignore[no-untyped-def]
    _refused(
        client,
        runtime,
        [(io.BytesIO(b"%PDF-1.7\n%%EOF\n"), "empty.pdf")],
        422,
        "The PDF document is damaged and cannot be read. Please send it again.",
    )


@pytest.mark.parametrize(
    ("sent", "stored", "leaks"),
    [
        ("../../home/jtremblay/Pictures/IMG_0001\t.jpg", "IMG_0001.jpg", ("jtremblay", "Pictures")),
        ("../etc/evidence\x07\x1b[31m.jpg", "evidence___31m.jpg", ("etc", "\x1b", "\x07")),
        ("\u202egnp.exe", "gnp.jpg", ("\u202e", "exe")),  # right-to-left override: "exe.png"
        pytest.param(
            "C:\\Users\\Jean Tremblay\\Desktop\\evidence.jpg",
            "evidence.jpg",
            ("Tremblay", "Users", "Desktop"),
            id="windows-full-path",
        ),
    ],
)
def test_file_names_lose_their_folders_and_control_characters(  # type: ignore[no-untyped-def]
    app, client, runtime, world, drain, tmp_path, sent, stored, leaks
) -> None:
    response = _post(client, [(io.BytesIO(tagged_jpeg(tmp_path).read_bytes()), sent)])
    assert response.status_code == 200, _text(response)
    page, (photo,) = _downloads(app, world, drain, reference_from(response.get_data(as_text=True)))
    listed = re.findall(r'/attachments/[0-9a-f]{32}">([^<]*)</a>', page)
    assert listed == [stored]
    assert not [leak for leak in leaks if leak in page]
    assert stored in photo.headers["Content-Disposition"]
    # On disk only a sealed file named by a random key: the name never reaches the store.
    (path,) = _stored_files(runtime)
    assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{32}\.sealed", path), path


def test_a_text_file_over_the_size_limit_is_refused(client, runtime) -> None:  # type: ignore[no-untyped-def]
    limit = runtime.settings.max_attachment_bytes
    huge = io.BytesIO(b"The truck comes every night.\n" * (limit // 29 + 1))
    assert len(huge.getvalue()) > limit
    page = _refused(
        client, runtime, [(huge, "notes.txt")], 413, f"is larger than {limit // (1024 * 1024)} MB."
    )
    assert "“notes.txt”" in page  # the file is named as the tipster knows it


def test_a_large_text_file_within_the_limit_is_stored_whole(
    app, client, runtime, world, drain
) -> None:  # type: ignore[no-untyped-def]
    line = "Le camion passe le mardi soir, rue Sainte-Catherine. ✓\n".encode()
    big = line * ((runtime.settings.max_attachment_bytes - 1024) // len(line))
    response = _post(client, [(io.BytesIO(big), "journal.txt")])
    assert response.status_code == 200, _text(response)
    _, (document,) = _downloads(app, world, drain, reference_from(response.get_data(as_text=True)))
    assert document.mimetype == "text/plain" and document.data == big


@pytest.mark.parametrize(
    "data",
    [
        pytest.param("Le café est à côté du garage.\n".encode("cp1252"), id="windows-1252"),
        pytest.param("\ufeffNotes du mardi\r\n".encode("utf-16"), id="utf-16-notepad"),
        pytest.param(b"good start, then \xc3\x28 a broken sequence\n", id="broken-utf-8"),
    ],
)
def test_text_that_is_not_utf8_is_refused_with_how_to_fix_it(client, runtime, data) -> None:  # type: ignore[no-untyped-def]
    page = _refused(client, runtime, [(io.BytesIO(data), "notes.txt")], 415, NOT_UTF8)
    assert "plain text (UTF-8)" in page  # and the accepted types are listed


def test_no_refusal_leaves_a_canary_in_the_page(client, runtime, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A refusal explains; it never echoes what was inside the file.
    page = _refused(
        client, runtime, [(io.BytesIO(_damaged_jpeg(tmp_path)), "x.jpg")], 422, JPEG_DAMAGED
    )
    assert not [c for c in CANARIES if c in page]
