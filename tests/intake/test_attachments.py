"""Attachments through the web form: scrubbed, sealed in chunks, served only to the unit."""

from __future__ import annotations

import io
import os
import secrets

import pytest
from PIL import Image
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from tests.intake.scrub.samples import CANARIES, assert_clean, tagged_jpeg
from tests.support.forms import csrf_token, reference_from, sign_in
from tipline.db import transaction
from tipline.intake.attachments import received_files
from tipline.models import AuditEntry, SealedItem, Tip

pytestmark = pytest.mark.embedded


def _post(client, files, **fields):  # type: ignore[no-untyped-def]
    data = {
        "category": "weapons",
        "zone": "on-north",
        "description": "Photos of the cache behind the arena.",
        "csrf_token": csrf_token(client, "/tip"),
        **fields,
        "attachments": files,
    }
    return client.post("/tip", data=data, content_type="multipart/form-data")


def _stored_files(runtime) -> list[bytes]:  # type: ignore[no-untyped-def]
    root = runtime.settings.data_dir / "attachments"
    return [p.read_bytes() for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _count(runtime, model) -> int:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_tagged_photo_is_scrubbed_sealed_and_served_clean_to_the_unit(
    app, client, runtime, drain, world, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    photo = tagged_jpeg(tmp_path)
    original = photo.read_bytes()
    assert b"CANARYSN4242" in original  # the sample really carries what must go
    response = _post(
        client,
        [
            (io.BytesIO(original), "IMG_2041 John's phone.jpg"),
            (io.BytesIO(b"plain notes\n"), "notes.txt"),
        ],
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    reference = reference_from(response.get_data(as_text=True))
    drain()
    # On disk: sealed files only, named by random keys; no canary, no file name.
    stored = _stored_files(runtime)
    assert len(stored) == 2
    for blob in stored:
        for canary in (*CANARIES, "John", "IMG_2041", "plain notes"):
            assert canary.encode() not in blob
    with runtime.sessions() as session:
        kinds = session.scalars(select(SealedItem.kind).order_by(SealedItem.id)).all()
    assert kinds == ["body", "attachment", "attachment"]

    staff = app.test_client()
    sign_in(staff, world["north"])
    page = staff.get(f"/staff/tips/{reference}").get_data(as_text=True)
    assert "IMG_2041 John_s phone.jpg" in page and "notes.txt" in page
    links = sorted(
        set(__import__("re").findall(rf"/staff/tips/{reference}/attachments/[0-9a-f]{{32}}", page))
    )
    assert len(links) == 2
    downloads = [staff.get(link) for link in links]
    photo_response = next(r for r in downloads if r.mimetype == "image/jpeg")
    assert photo_response.headers["Content-Disposition"].startswith("attachment;")
    assert photo_response.headers["Cache-Control"] == "no-store"
    served = tmp_path / "served.jpg"
    served.write_bytes(photo_response.data)
    assert_clean(served)  # exiftool finds nothing identifying
    assert Image.open(served).size == Image.open(io.BytesIO(original)).size
    text = next(r for r in downloads if r.mimetype == "text/plain")
    assert text.data == b"plain notes\n"
    with runtime.sessions() as session:
        reads = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "attachment.read")
        )
    assert reads == 2


def test_another_unit_cannot_download_an_attachment(
    app, client, runtime, drain, world, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    response = _post(client, [(io.BytesIO(b"secret plan\n"), "plan.txt")])
    reference = reference_from(response.get_data(as_text=True))
    drain()
    own = app.test_client()
    sign_in(own, world["north"])
    link = (
        __import__("re")
        .search(
            rf"/staff/tips/{reference}/attachments/[0-9a-f]{{32}}",
            own.get(f"/staff/tips/{reference}").get_data(as_text=True),
        )
        .group(0)
    )
    other = app.test_client()
    sign_in(other, world["montreal"])
    assert other.get(link).status_code == 404
    assert own.get(link).data == b"secret plan\n"


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", 415, "JPEG image"),
        (b"\x7fELF\x02\x01\x01" + bytes(100), 415, "PDF document"),
        (b"\xff\xd8\xff\xe0 truncated jpeg", 422, ""),
    ],
)
def test_a_file_we_cannot_clean_refuses_the_tip_keeps_the_text_and_stores_nothing(
    client, runtime, payload, status, message
) -> None:  # type: ignore[no-untyped-def]
    response = _post(
        client, [(io.BytesIO(payload), "x.bin")], description="Keep this description for me."
    )
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert message in page
    assert "Keep this description for me." in page
    assert _count(runtime, Tip) == 0
    assert _stored_files(runtime) == []


def test_size_limits_per_file_and_per_tip(client, runtime) -> None:  # type: ignore[no-untyped-def]
    settings = runtime.settings
    runtime.settings = settings.with_overrides(
        max_attachment_bytes=1000, max_attachments_bytes=1500
    )
    try:
        one_big = _post(client, [(io.BytesIO(b"a" * 1001), "big.txt")])
        together = _post(
            client, [(io.BytesIO(b"a" * 900), "a.txt"), (io.BytesIO(b"b" * 900), "b.txt")]
        )
    finally:
        runtime.settings = settings
    assert one_big.status_code == 413 and "larger than" in one_big.get_data(as_text=True)
    assert together.status_code == 413 and "together" in together.get_data(as_text=True)
    assert _count(runtime, Tip) == 0 and _stored_files(runtime) == []


def test_sealed_files_are_deleted_when_the_tip_does_not_commit(client, runtime) -> None:  # type: ignore[no-untyped-def]
    # The files are sealed and written before the tip's rows; make the rows fail.
    with runtime.engine.begin() as conn:
        conn.execute(text("ALTER TABLE outbox RENAME TO outbox_away"))
    try:
        try:
            response = _post(client, [(io.BytesIO(b"will not be kept\n"), "a.txt")])
            status = response.status_code
        except Exception:  # noqa: BLE001 - TESTING propagates errors the handler would turn into 500
            status = 500
    finally:
        with runtime.engine.begin() as conn:
            conn.execute(text("ALTER TABLE outbox_away RENAME TO outbox"))
    assert status >= 500
    assert _count(runtime, Tip) == 0
    assert _stored_files(runtime) == []


def test_uploads_in_flight_never_touch_the_disk_in_clear(app) -> None:  # type: ignore[no-untyped-def]
    from tipline.crypto.spool import EncryptedTempFile

    with app.test_request_context("/tip", method="POST"):
        from flask import request

        stream = request._get_file_stream(100, "image/jpeg", "a.jpg", 100)  # noqa: SLF001
        assert isinstance(stream.raw, EncryptedTempFile)
        stream.close()
    assert os.environ.get("TMPDIR", "/tmp")  # the spool lives there, unlinked and encrypted


def test_files_of_a_commit_that_may_have_happened_are_left_to_the_orphan_sweep(runtime) -> None:  # type: ignore[no-untyped-def]
    """The connection lost during COMMIT: the server may have committed rows naming the
    files, so they are not deleted on the spot (the orphan sweep decides, a day later).
    Any failure before the commit deletes them at once."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("needs a database server connection to cut")

    def sealed(handle) -> None:  # type: ignore[no-untyped-def]
        handle.write(b"sealed bytes")

    with (
        pytest.raises(OperationalError),
        received_files([], runtime.store) as (_, written),
        transaction(runtime.sessions) as session,
    ):
        written.append(runtime.store.write(secrets.token_hex(16), sealed))
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with runtime.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    assert runtime.store.path(written[0]).exists()

    with (
        pytest.raises(ValueError, match="refused before the commit"),
        received_files([], runtime.store) as (_, refused),
    ):
        refused.append(runtime.store.write(secrets.token_hex(16), sealed))
        raise ValueError("refused before the commit")
    assert not runtime.store.path(refused[0]).exists()
