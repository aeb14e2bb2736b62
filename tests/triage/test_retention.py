"""Closed tips past their retention are deleted whole: rows, sealed items, files, handle."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.support.api import bearer, routed_tip
from tests.support.forms import csrf_token
from tipline.db import transaction
from tipline.models import AuditEntry, SealedItem, Tip, TipKeyGrant, TipUnit
from tipline.models.base import utcnow
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
