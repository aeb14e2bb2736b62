"""Append-only audit log with a hash chain: each entry carries the previous hash.

Entries name actors and subjects (a tip reference, a unit slug), never content.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tipline.models import AuditEntry
from tipline.models.base import utcnow

GENESIS = "0" * 64


def _digest(prev_hash: str, seq: int, at: str, actor: str, action: str, subject: str) -> str:
    payload = json.dumps([prev_hash, seq, at, actor, action, subject], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def record(session: Session, actor: str, action: str, subject: str = "") -> AuditEntry:
    """Append one entry in the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        # Serialise writers so two transactions never chain onto the same predecessor.
        session.execute(text("SELECT pg_advisory_xact_lock(7461626)"))
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).first()
    prev_hash = last.hash if last else GENESIS
    seq = (last.seq + 1) if last else 1
    at = utcnow().replace(microsecond=0)
    entry = AuditEntry(
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        seq=seq,
        prev_hash=prev_hash,
        hash=_digest(prev_hash, seq, at.isoformat(), actor, action, subject),
    )
    session.add(entry)
    session.flush()
    return entry


def first_broken_link(session: Session) -> AuditEntry | None:
    """The first entry whose hash or link does not check out, or None."""
    prev_hash = GENESIS
    expected_seq = 1
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
        at = entry.at.replace(microsecond=0).isoformat()
        digest = _digest(prev_hash, entry.seq, at, entry.actor, entry.action, entry.subject)
        if entry.seq != expected_seq or entry.prev_hash != prev_hash or entry.hash != digest:
            return entry
        prev_hash = entry.hash
        expected_seq += 1
    return None
