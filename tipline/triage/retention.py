"""Closed tips are deleted when their disposition's retention period is over.

Everything goes: the tip row and, by cascade, its sealed items, key grants, units,
tags, links, SMS reply handle and outbox rows; then its sealed files, overwritten before
they are unlinked. Each deletion is audited by reference, without content. Files are
removed after the commit: a crash in between leaves sealed files nobody can find (their
keys are gone with the rows), never a row whose files are missing.

Such files, and those of a process killed between writing a file and committing its row
(web intake, follow-up, MMS), are found by delete_orphan_files: a daily walk of the
store that deletes what no row names, once it is old enough that no transaction can
still be about to commit it.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from tipline import audit
from tipline.db import transaction
from tipline.models import SealedItem, Tip
from tipline.runtime import Runtime
from tipline.stats.rollup import tracking

BATCH = 200
# A file is written moments before the transaction that names it commits (a request, a
# job). A day is far beyond that, and short enough that disks do not fill.
ORPHAN_GRACE_SECONDS = 24 * 3600
# Orphans come from crashes: a few at a time. Many of them, or a database that names no
# file at all, says the worker is on the wrong database or data directory (a staging
# copy, a restore in the wrong order): then nothing is deleted and a person is asked.
ORPHAN_FLOOR = 20
ORPHAN_CEILING = 10_000


class OrphanSweepRefused(RuntimeError):
    """Too many files no row names to be crash leftovers; nothing was deleted."""


def delete_expired(runtime: Runtime, now: datetime) -> int:
    """Delete every closed tip past its retention; how many went."""
    deleted = 0
    for disposition, days in runtime.config.policy.retention_days.items():
        cutoff = now - timedelta(days=days)
        while True:
            with transaction(runtime.sessions) as session:
                rows = session.execute(
                    select(Tip.id, Tip.reference)
                    .where(
                        Tip.status == "closed",
                        Tip.disposition == disposition,
                        Tip.closed_at < cutoff,
                    )
                    .order_by(Tip.id)
                    .limit(BATCH)
                    # Locked as chosen: a tip reopened meanwhile is waited for, then
                    # found no longer closed (PostgreSQL checks the condition again).
                    .with_for_update(of=Tip)
                ).all()
                if not rows:
                    break
                ids = [tip_id for tip_id, _ in rows]
                paths = [
                    path
                    for path in session.scalars(
                        select(SealedItem.blob_path).where(SealedItem.tip_id.in_(ids))
                    )
                    if path
                ]
                with tracking(session, ids):  # gone from the statistics rollup too
                    session.execute(delete(Tip).where(Tip.id.in_(ids)))
                for _, reference in rows:
                    audit.record(
                        session, "system", "tip.deleted", f"{reference} ({disposition}, retention)"
                    )
            for path in paths:
                runtime.store.delete(path)
            deleted += len(rows)
    return deleted


def delete_orphan_files(runtime: Runtime, now: float) -> int:
    """Overwrite and unlink store files that no sealed item names and that were last
    written more than ORPHAN_GRACE_SECONDS before ``now``; how many went.

    Raises OrphanSweepRefused, deleting nothing, when they look like another database's
    files rather than crash leftovers: more than ORPHAN_FLOOR and more than a tenth of
    the files, more than ORPHAN_CEILING, or any two while the database names no file."""
    with runtime.sessions() as session:
        names_files = (
            session.scalar(select(SealedItem.id).where(SealedItem.blob_path.is_not(None)).limit(1))
            is not None
        )
    scanned = 0
    orphans: list[str] = []
    found = runtime.store.written_before(now - ORPHAN_GRACE_SECONDS)
    while batch := list(itertools.islice(found, 500)):
        scanned += len(batch)
        with runtime.sessions() as session:
            named = set(
                session.scalars(
                    select(SealedItem.item_key).where(
                        SealedItem.item_key.in_([key for key, _ in batch])
                    )
                )
            )
        orphans += [relative for key, relative in batch if key not in named]
        if len(orphans) > ORPHAN_CEILING:
            break
    if (
        len(orphans) > ORPHAN_CEILING
        or (len(orphans) > ORPHAN_FLOOR and len(orphans) * 10 > scanned)
        or (len(orphans) > 1 and not names_files)
    ):
        raise OrphanSweepRefused(
            f"{len(orphans)} of {scanned} sealed files are named by no tip: is this worker "
            "on the right database and data directory? Nothing was deleted."
        )
    return sum(runtime.store.delete(relative) for relative in orphans)
