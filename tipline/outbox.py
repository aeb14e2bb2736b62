"""Work promised in the same transaction as what it is about, kept until it is done.

An outbox row is written in the caller's transaction; the job is enqueued after the
commit, by id only; the job deletes the row in the same transaction as its effect. If
Redis was down, or a job was lost with a killed worker, the sweeper (workers/sweeper.py)
finds the row and enqueues it again, so every job here must be idempotent.

Anything a job needs besides the tip id (a Twilio SID, media URLs, the text of a reply)
is sealed under the relay key (tipline.crypto.relay.seal_work).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from tipline.crypto import relay
from tipline.models import OutboxEntry
from tipline.models.base import truncated_now

ROUTE_TIP = "route_tip"  # place a tip in its unit queues (payload: none)
FETCH_MEDIA = "fetch_media"  # MMS: download, scrub, seal (payload: message SID, media URLs)
PURGE_MESSAGE = "purge_message"  # delete a message and its media at Twilio (payload: SID)
SEND_SMS = "send_sms"  # text the tipster through the reply handle (payload: the text)
# email staff a content-free notice (payload: which notice, unit, priority, …; no content)
NOTIFY_STAFF = "notify_staff"
JOBS = (ROUTE_TIP, FETCH_MEDIA, PURGE_MESSAGE, SEND_SMS, NOTIFY_STAFF)


@dataclass(frozen=True)
class Work:
    """A committed outbox row, to enqueue once the transaction is over."""

    job: str
    outbox_id: int
    tip_id: int | None = None


def add(
    session: Session,
    job: str,
    *,
    tip_id: int | None,
    payload: dict[str, Any] | None,
    relay_key: bytes,
    granularity_minutes: int,
) -> Work:
    """Stage an outbox row in ``session``; the caller commits, then enqueues the Work."""
    if job not in JOBS:
        raise ValueError(f"unknown outbox job {job!r}")
    sealed = (
        None
        if payload is None
        else relay.seal_work(relay_key, job, tip_id, json.dumps(payload).encode())
    )
    outbox_id = session.execute(
        insert(OutboxEntry)
        .values(
            job=job,
            tip_id=tip_id,
            payload=sealed,
            # Truncated like every clear time: an exact time next to a tip id would date it.
            created_at=truncated_now(granularity_minutes),
            attempts=0,
        )
        .returning(OutboxEntry.id)
    ).scalar_one()
    return Work(job, outbox_id, tip_id)


def payload_of(entry: OutboxEntry, relay_key: bytes) -> dict[str, Any]:
    """The opened payload of ``entry`` (empty when it has none). Raises SealError."""
    if entry.payload is None:
        return {}
    data = json.loads(relay.open_work(relay_key, entry.job, entry.tip_id, entry.payload))
    if not isinstance(data, dict):
        raise ValueError("an outbox payload must be an object")
    return data
