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
from tipline.store import AttachmentStore
from tipline.triage.retention import ORPHAN_FLOOR, ORPHAN_GRACE_SECONDS, OrphanSweepRefused
from workers import jobs

pytestmark = pytest.mark.embedded


def _close(api, headers, reference: str, disposition: str) -> None:  # type: ignore[no-untyped-def]
    response = api.post(
        f"/api/v1/tips/{reference}/status",
        json={"status": "closed", "disposition": disposition},
        headers=headers,
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def _tip_with_file(client, drain, description: str, notes: bytes) -> None:  # type: ignore[no-untyped-def]
    """A web tip with one text file, routed by the worker."""
    data = {
        "category": "drugs",
        "zone": "on-north",
        "description": description,
        "lang": "en",
        "csrf_token": csrf_token(client, "/tip"),
        "attachments": (io.BytesIO(notes), "notes.txt"),
    }
    assert client.post("/tip", data=data, content_type="multipart/form-data").status_code == 200
    drain()


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
    _tip_with_file(client, drain, "A tip with a photo that will expire.", b"plain notes\n")
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


def _orphan(store: AttachmentStore, suffix: str, age: float):  # type: ignore[no-untyped-def]
    """A file as AttachmentStore.write leaves it, that no row names, ``age`` seconds old."""
    key = secrets.token_hex(16)
    path = store.path(store.relative_path(key)).with_suffix(suffix)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_bytes(b"sealed bytes whose keys are gone")
    _age(path, age)
    return path


def test_files_no_row_names_go_a_day_after_they_were_written(
    app, client, drain, runtime, world
) -> None:  # type: ignore[no-untyped-def]
    """A crash between writing a sealed file and committing its row (or between
    retention's commit and its unlink) leaves a file no row names: the daily job deletes
    it once it is older than the grace period, and never touches a file a row names."""
    _tip_with_file(
        client, drain, "A tip whose photo must survive the orphan sweep.", b"the tipster's notes\n"
    )
    with runtime.sessions() as session:
        reference = session.scalars(select(Tip.reference)).one()
        item_key, live_path = session.execute(
            select(SealedItem.item_key, SealedItem.blob_path).where(SealedItem.kind == "attachment")
        ).one()
    live = runtime.store.path(live_path)
    _age(live, 2 * ORPHAN_GRACE_SECONDS)  # old, but named by its row: it stays

    old_sealed = _orphan(runtime.store, ".sealed", ORPHAN_GRACE_SECONDS + 60)
    old_partial = _orphan(runtime.store, ".partial", 3 * ORPHAN_GRACE_SECONDS)  # writer killed
    recent = _orphan(runtime.store, ".sealed", ORPHAN_GRACE_SECONDS - 600)  # commit on its way
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


def test_the_orphan_sweep_deletes_nothing_when_the_files_look_like_another_databases(
    client, drain, runtime
) -> None:  # type: ignore[no-untyped-def]
    """A worker on the wrong database (empty, or a staging copy beside the real data
    directory) would see every file as an orphan: it refuses, and every file stays."""
    old = 2 * ORPHAN_GRACE_SECONDS
    strays = [_orphan(runtime.store, ".sealed", old) for _ in range(2)]
    with pytest.raises(OrphanSweepRefused, match="Nothing was deleted"):
        jobs.delete_orphan_files()  # the database names no file at all
    assert all(path.exists() for path in strays)

    _tip_with_file(client, drain, "One tip with a file, among many files no tip names.", b"notes\n")
    with runtime.sessions() as session:
        (live,) = [p for p in session.scalars(select(SealedItem.blob_path)) if p]
    _age(runtime.store.path(live), old)
    strays += [_orphan(runtime.store, ".sealed", old) for _ in range(ORPHAN_FLOOR)]
    with pytest.raises(OrphanSweepRefused, match=f"{len(strays)} of {len(strays) + 1} "):
        jobs.delete_orphan_files()
    assert all(path.exists() for path in strays)


def test_the_store_never_follows_a_link_it_is_asked_to_delete(runtime) -> None:  # type: ignore[no-untyped-def]
    target = _orphan(runtime.store, ".sealed", 0)
    kept = target.read_bytes()
    link = runtime.store.path(runtime.store.relative_path(secrets.token_hex(16)))
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    relative = str(link.relative_to(runtime.store.root))
    with pytest.raises(OSError):
        runtime.store.delete(relative)
    assert target.read_bytes() == kept
    assert runtime.store.delete(str(target.relative_to(runtime.store.root))) is True
    assert runtime.store.delete(str(target.relative_to(runtime.store.root))) is False


def test_a_tip_reopened_while_retention_runs_is_kept(app, client, drain, runtime, world) -> None:  # type: ignore[no-untyped-def]
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: the two cannot overlap")
    import threading

    reference = routed_tip(client, drain)
    api = app.test_client()
    _close(api, bearer(api, world["north"]), reference, "unfounded")
    _closed_days_ago(runtime, reference, 91)
    # An investigator reopens the tip; before their change commits, retention starts.
    reopening = runtime.sessions()
    deleted: list[int] = []
    sweep = threading.Thread(target=lambda: deleted.append(jobs.delete_expired_tips()))
    try:
        reopening.begin()
        reopening.execute(update(Tip).where(Tip.reference == reference).values(status="in_review"))
        sweep.start()
        for _ in range(600):  # until the sweep waits on the reopened tip's lock
            with runtime.engine.connect() as watcher:  # a fresh view of the activity
                waiting = watcher.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                ).scalar()
            if waiting:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the sweep never reached the tip")
        reopening.commit()
    finally:
        reopening.close()
        sweep.join(timeout=30)
    assert deleted == [0]
    with runtime.sessions() as session:
        assert session.scalar(select(Tip.status).where(Tip.reference == reference)) == "in_review"
