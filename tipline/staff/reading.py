"""What a staff member may see, and opening it: password → staff key → unit key → tip.

A tip of a unit the staff member does not belong to is reported as not found, and
cannot be opened anyway: no key they hold unseals its tip key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline import audit
from tipline.crypto import PrivateKey, SealError
from tipline.crypto import hierarchy as h
from tipline.crypto.spool import encrypted_spool
from tipline.errors import NotFound
from tipline.followup.thread import FileInfo, Thread, read_thread
from tipline.keyring import Unlocked, unlock_units
from tipline.models import Membership, SealedItem, Staff, Tip, TipKeyGrant, TipUnit, Unit
from tipline.sms.outbound import has_reply_handle
from tipline.staff.sessions import StaffSession
from tipline.store import AttachmentStore
from tipline.triage.workflow import links_of, read_notes, tags_of


def reader_units(session: Session, staff_id: int) -> dict[int, str]:
    """The units a staff member belongs to (id → slug): what their queue shows."""
    return dict(
        session.execute(
            select(Unit.id, Unit.slug)
            .join(Membership, Membership.unit_id == Unit.id)
            .where(Membership.staff_id == staff_id)
            .distinct()
        ).all()
    )


def unit_members(session: Session, slugs: list[str]) -> list[tuple[int, str]]:
    """Active staff of these units, (id, email): whom a supervisor may assign a tip to."""
    return list(
        session.execute(
            select(Staff.id, Staff.email)
            .join(Membership, Membership.staff_id == Staff.id)
            .join(Unit, Unit.id == Membership.unit_id)
            .where(Unit.slug.in_(slugs), Staff.active.is_(True))
            .distinct()
            .order_by(Staff.email)
        ).all()
    )


@dataclass(frozen=True)
class OpenedTip:
    reference: str
    category: str
    zone: str | None
    priority: str
    status: str
    received_at: datetime
    description: str
    submitted_at: str
    lang: str
    postal_code: str | None = None
    point: tuple[float, float] | None = None
    channel: str = "web"
    # SMS tips: the tipster can still be texted (a reply handle exists; never the number).
    textable: bool = False
    disposition: str | None = None
    assignee: str | None = None  # the assignee's email
    assignee_id: int | None = None
    sla_breached: bool = False
    units: tuple[tuple[str, str], ...] = ()  # (slug, "primary" | "info")
    tags: tuple[str, ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (kind, reference), only tips the reader may see
    notes: tuple[tuple[str, str, str], ...] = ()  # (author email, text, time)


def unlocked_tip(session: Session, staff: StaffSession, reference: str) -> tuple[Tip, PrivateKey]:
    """The tip and its private key, or NotFound: missing, not routed, not theirs, or damaged
    all look the same."""
    # Unlock first, whatever the reference, and fetch the tip with its key grants in one
    # query: a tip of another unit and a missing tip then cost the same time, as well as
    # giving the same answer.
    unlocked = unlock_units(session, staff.staff_id, staff.staff_key)
    rows = session.execute(
        select(Tip, TipKeyGrant)
        .join(TipKeyGrant, TipKeyGrant.tip_id == Tip.id, isouter=True)
        .where(Tip.reference == reference)
    ).all()
    tip = rows[0][0] if rows else None
    if tip is None or tip.status == "received":
        raise NotFound("No such tip.")
    try:
        return tip, _tip_key(unlocked, tip, [grant for _, grant in rows if grant is not None])
    except SealError:
        raise NotFound("No such tip.") from None


def _tip_key(unlocked: Unlocked, tip: Tip, grants: list[TipKeyGrant]) -> PrivateKey:
    for grant in grants:
        if not grant.holder.startswith("unit:"):
            continue
        unit_key = unlocked.unit_keys.get(
            (grant.holder.removeprefix("unit:"), grant.holder_version)
        )
        if unit_key is not None:
            return h.open_tip_key(
                unit_key, grant.sealed_key, tip.reference, grant.holder, grant.holder_version
            )
    # Same answer as a missing tip: never reveal that another unit's tip exists.
    raise NotFound("No such tip.")


def read_tip(session: Session, staff: StaffSession, reference: str) -> tuple[OpenedTip, Thread]:
    """The opened tip and its conversation (messages, files, reward decision)."""
    tip, tip_key = unlocked_tip(session, staff, reference)
    body_item = session.scalars(
        select(SealedItem).where(SealedItem.tip_id == tip.id, SealedItem.kind == "body")
    ).first()
    try:
        if body_item is None:
            raise SealError("a tip without its body")
        body = json.loads(
            h.open_tip_item(
                tip_key, tip.reference, "body", body_item.item_key, body_item.ciphertext or b""
            )
        )
        thread = read_thread(session, tip, tip_key)
        notes = read_notes(session, tip, tip_key)
    except SealError:
        # A damaged or moved ciphertext: the same answer as for a tip that is not theirs.
        raise NotFound("No such tip.") from None
    if tip.reply_waiting:
        tip.reply_waiting = False  # seen: the queue stops flagging it
    people = {n.author_id for n in notes} | ({tip.assignee_id} if tip.assignee_id else set())
    emails = dict(session.execute(select(Staff.id, Staff.email).where(Staff.id.in_(people))).all())
    audit.record(session, f"staff:{staff.staff_id}", "tip.read", tip.reference)
    opened = OpenedTip(
        reference=tip.reference,
        category=tip.category,
        zone=tip.zone,
        priority=tip.priority,
        status=tip.status,
        received_at=tip.received_at,
        description=body["description"],
        submitted_at=body["submitted_at"],
        lang=body["lang"],
        postal_code=body.get("postal_code"),
        point=tuple(body["point"]) if body.get("point") else None,
        channel=tip.channel,
        textable=tip.channel == "sms" and has_reply_handle(session, tip.id),
        disposition=tip.disposition,
        assignee=emails.get(tip.assignee_id) if tip.assignee_id else None,
        assignee_id=tip.assignee_id,
        sla_breached=tip.sla_breached,
        units=tuple(
            session.execute(
                select(Unit.slug, TipUnit.role)
                .join(TipUnit, TipUnit.unit_id == Unit.id)
                .where(TipUnit.tip_id == tip.id)
                .order_by(TipUnit.role.desc(), Unit.slug)
            ).all()
        ),
        tags=tuple(tags_of(session, tip.id)),
        links=tuple(links_of(session, tip.id, set(reader_units(session, staff.staff_id)))),
        notes=tuple((emails.get(n.author_id, "former staff"), n.text, n.written_at) for n in notes),
    )
    return opened, thread


def read_attachment(
    session: Session, staff: StaffSession, store: AttachmentStore, reference: str, item_key: str
) -> tuple[FileInfo, BinaryIO]:
    """The attachment's details and its plaintext in an encrypted spool (authenticated in
    full before the first byte is served)."""
    tip, tip_key = unlocked_tip(session, staff, reference)
    item = session.scalars(
        select(SealedItem).where(
            SealedItem.tip_id == tip.id,
            SealedItem.kind == "attachment",
            SealedItem.item_key == item_key,
        )
    ).first()
    if item is None or not item.blob_path:
        raise NotFound("No such attachment.")
    spool = encrypted_spool()
    try:
        meta = json.loads(
            h.open_tip_item(
                tip_key, tip.reference, "attachment", item.item_key, item.ciphertext or b""
            )
        )
        with store.open(item.blob_path) as sealed:
            h.open_tip_stream(tip_key, tip.reference, "attachment", item.item_key, sealed, spool)
    except (SealError, FileNotFoundError):
        spool.close()
        raise NotFound("No such attachment.") from None
    spool.seek(0)
    audit.record(
        session, f"staff:{staff.staff_id}", "attachment.read", f"{tip.reference}/{item_key}"
    )
    return FileInfo(item.item_key, meta["name"], meta["type"], meta["size"]), spool
