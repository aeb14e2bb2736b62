"""Closed tips past their retention are deleted whole: rows, sealed items, files, handle."""

from __future__ import annotations

import io
import os
import secrets
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.support.api import bearer, routed_tip
from tests.support.forms import csrf_token
from tipline.db import transaction
from tipline.models import AuditEntry, SealedItem, Tip, TipKeyGrant, TipUnit
from tipline.models.base import utcnow
from tipline.triage.retention import ORPHAN_GRACE_SECONDS
from workers import jobs

pytestmark = pytest.mark.embedded


def _close(api, headers, reference: str, disposition: str) -> None:  # type: ignore[no-untyped-def]
    response = api.post(
        f"/api/v1/tips/{reference}/status",
        json={"status": "closed", "disposition": disposition},
        headers=headers,
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def _closed_days_ago(runtime, reference: str, days: float) -> None:  # type: ignore[no-untyped-def]
    with transaction(runtime.sessions) as session:
        session.execute(
            update(Tip)
            .where(Tip.reference == reference)
            .values(closed_at=utcnow() - timedelta(days=days))
        )


def test_an_expired_tip_goes_whole_and_its_deletion_is_audited(
    app, client, drain, runtime, world
) -> None:  # type: ignore[no-untyped-def]
    data = {
        "category": "drugs",
        "zone": "on-north",
        "description": "A tip with a photo that will expire.",
        "lang": "en",
        "csrf_token": csrf_token(client, "/tip"),
        "attachments": (__import__("io").BytesIO(b"plain notes\n"), "notes.txt"),
    }
    assert client.post("/tip", data=data, content_type="multipart/form-data").status_code == 200
    drain()
    with runtime.sessions() as session:
        expired = session.scalars(select(Tip.reference)).one()
        files = [
            runtime.store.path(p) for p in session.scalars(select(SealedItem.blob_path)).all() if p
        ]
    assert files and all(f.exists() for f in files)
    recent = routed_tip(client, drain)
    still_open = routed_tip(client, drain)
    api = app.test_client()
    north = bearer(api, world["north"])
    _close(api, north, expired, "unfounded")  # kept 90 days
    _close(api, north, recent, "unfounded")
    _closed_days_ago(runtime, expired, 91)
    _closed_days_ago(runtime, recent, 89)
    with transaction(runtime.sessions) as session:
        session.execute(
            update(Tip)
            .where(Tip.reference == still_open)
            .values(received_at=utcnow() - timedelta(days=400))
        )

    assert jobs.delete_expired_tips() == 1
    assert jobs.delete_expired_tips() == 0
    with runtime.sessions() as session:
        assert set(session.scalars(select(Tip.reference))) == {recent, still_open}
        ids = set(session.scalars(select(Tip.id)))
        for model in (SealedItem, TipKeyGrant, TipUnit):
            assert set(session.scalars(select(model.tip_id))) <= ids, model
        subjects = session.scalars(
            select(AuditEntry.subject).where(AuditEntry.action == "tip.deleted")
        ).all()
    assert subjects == [f"{expired} (unfounded, retention)"]
    assert not any(f.exists() for f in files)
    assert api.get(f"/api/v1/tips/{expired}", headers=north).status_code == 404


def test_retention_follows_the_disposition(app, client, drain, runtime, world) -> None:  # type: ignore[no-untyped-def]
    arrest = routed_tip(client, drain)
    api = app.test_client()
    north = bearer(api, world["north"])
    _close(api, north, arrest, "arrest")  # kept 2555 days
    _closed_days_ago(runtime, arrest, 400)
    assert jobs.delete_expired_tips() == 0
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Tip)) == 1


def _age(path, seconds: float) -> None:  # type: ignore[no-untyped-def]
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_files_no_row_names_go_a_day_after_they_were_written(
    app, client, drain, runtime, world
) -> None:  # type: ignore[no-untyped-def]
    """A crash between writing a sealed file and committing its row (or between
    retention's commit and its unlink) leaves a file no row names: the daily job deletes
    it once it is older than the grace period, and never touches a file a row names."""
    data = {
        "category": "drugs",
        "zone": "on-north",
        "description": "A tip whose photo must survive the orphan sweep.",
        "lang": "en",
        "csrf_token": csrf_token(client, "/tip"),
        "attachments": (io.BytesIO(b"the tipster's notes\n"), "notes.txt"),
    }
    assert client.post("/tip", data=data, content_type="multipart/form-data").status_code == 200
    drain()
    with runtime.sessions() as session:
        reference = session.scalars(select(Tip.reference)).one()
        item_key, live_path = session.execute(
            select(SealedItem.item_key, SealedItem.blob_path).where(SealedItem.kind == "attachment")
        ).one()
    live = runtime.store.path(live_path)
    _age(live, 2 * ORPHAN_GRACE_SECONDS)  # old, but named by its row: it stays

    def orphan(suffix: str, age: float):  # type: ignore[no-untyped-def]
        key = secrets.token_hex(16)
        path = runtime.store.path(runtime.store.relative_path(key)).with_suffix(suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"sealed bytes whose keys are gone")
        _age(path, age)
        return path

    old_sealed = orphan(".sealed", ORPHAN_GRACE_SECONDS + 60)
    old_partial = orphan(".partial", 3 * ORPHAN_GRACE_SECONDS)  # a writer killed mid-file
    recent = orphan(".sealed", ORPHAN_GRACE_SECONDS - 600)  # its commit may be on its way
    not_ours = old_sealed.parent / "operator-notes.txt"
    not_ours.write_bytes(b"not a file the store wrote")
    _age(not_ours, 10 * ORPHAN_GRACE_SECONDS)

    assert jobs.delete_orphan_files() == 2
    assert not old_sealed.exists() and not old_partial.exists()
    assert recent.exists() and not_ours.exists() and live.exists()
    assert jobs.delete_orphan_files() == 0

    # The file a row names still opens to what the tipster sent.
    api = app.test_client()
    response = api.get(
        f"/api/v1/tips/{reference}/attachments/{item_key}", headers=bearer(api, world["north"])
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_data() == b"the tipster's notes\n"
