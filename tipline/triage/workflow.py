"""What investigators and supervisors do to a tip: claim, assign, move it through its
statuses, close it with a disposition, note, tag, link, refer.

Plain functions on a session; the caller has already shown the actor may open the tip
(staff.reading.unlocked_tip: a tip of another unit is "not found" before it gets here).
Every change is a conditional UPDATE on the state the actor saw, so two people acting at
once get one success and one clear refusal (:class:`Conflict`), never a lost update.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, delete, func, insert, select, update
from sqlalchemy.orm import Session

from tipline import audit
from tipline.crypto import PrivateKey, SealError
from tipline.crypto import hierarchy as h
from tipline.errors import Conflict, Forbidden, InvalidInput, TooLarge
from tipline.keyring import current_unit_keys
from tipline.models import Membership, SealedItem, Staff, Tip, TipKeyGrant, TipLink, TipTag, TipUnit
from tipline.models.base import truncated_now, utcnow
from tipline.models.unit import Unit
from tipline.stats.rollup import counted
from tipline.triage.config import DISPOSITIONS

# Statuses a tip moves through once it is in a queue ("received" is before routing).
OPEN_STATUSES = ("new", "in_review", "actioned", "referred")
STATUSES = (*OPEN_STATUSES, "closed")
# Where each status may go next. Referral has its own action (it moves the tip to
# another unit); reopening a closed tip is a supervisor's decision.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("in_review", "closed"),
    "in_review": ("actioned", "closed"),
    "actioned": ("in_review", "closed"),
    "referred": ("in_review", "closed"),
    "closed": ("in_review",),
}
LINK_KINDS = ("related", "duplicate")
SUPERVISING_ROLES = ("supervisor", "admin")
TAG = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
MAX_TAGS = 20
MAX_NOTE_CHARS = 10_000


@dataclass(frozen=True)
class Actor:
    """A signed-in staff member, as the workflow needs them."""

    staff_id: int
    role: str

    @property
    def supervises(self) -> bool:
        return self.role in SUPERVISING_ROLES

    @property
    def name(self) -> str:
        return f"staff:{self.staff_id}"


@dataclass(frozen=True)
class Note:
    author_id: int
    text: str
    written_at: str  # ISO time, from inside the seal


def _changed(result: object) -> bool:
    return getattr(result, "rowcount", 0) == 1


@counted
def claim(session: Session, tip: Tip, actor: Actor, granularity: int) -> None:
    """Take an unassigned open tip; a new tip moves to "in review"."""
    now = truncated_now(granularity)
    result = session.execute(
        update(Tip)
        .where(Tip.id == tip.id, Tip.assignee_id.is_(None), Tip.status.in_(OPEN_STATUSES))
        .values(
            assignee_id=actor.staff_id,
            status=_in_review_if_new(),
            triaged_at=func.coalesce(Tip.triaged_at, now),
        )
        .execution_options(synchronize_session=False)
    )
    if not _changed(result):
        session.refresh(tip)
        if tip.status == "closed":
            raise Conflict("This tip is closed: reopen it before claiming it.")
        raise Conflict("Someone else has claimed this tip.")
    session.refresh(tip)
    audit.record(session, actor.name, "tip.claim", tip.reference)


def _in_review_if_new() -> ColumnElement[str]:
    return case((Tip.status == "new", "in_review"), else_=Tip.status)


@counted
def assign(
    session: Session,
    tip: Tip,
    actor: Actor,
    assignee_id: int | None,
    granularity: int,
) -> None:
    """A supervisor gives the tip to a member of one of its units (or to nobody)."""
    if not actor.supervises:
        raise Forbidden("Only a supervisor can assign a tip to someone else.")
    if tip.status == "closed":
        raise Conflict("This tip is closed: reopen it before assigning it.")
    if assignee_id is not None and not _may_work_on(session, assignee_id, tip.id):
        # The same words whether the account is missing, inactive or of another unit.
        raise InvalidInput("That person is not an active member of this tip's units.")
    now = truncated_now(granularity)
    values: dict[str, object] = {"assignee_id": assignee_id}
    if assignee_id is not None:
        values.update(status=_in_review_if_new(), triaged_at=func.coalesce(Tip.triaged_at, now))
    session.execute(
        update(Tip)
        .where(Tip.id == tip.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(tip)
    audit.record(session, actor.name, "tip.assign", f"{tip.reference} -> {assignee_id or 'nobody'}")


def release(session: Session, tip: Tip, actor: Actor) -> None:
    """Give a claimed tip back to the queue (its assignee, or a supervisor)."""
    if tip.assignee_id is None:
        raise Conflict("Nobody has claimed this tip.")
    if tip.assignee_id != actor.staff_id and not actor.supervises:
        raise Forbidden("Only the assignee or a supervisor can release this tip.")
    result = session.execute(
        update(Tip)
        .where(Tip.id == tip.id, Tip.assignee_id == tip.assignee_id)
        .values(assignee_id=None)
        .execution_options(synchronize_session=False)
    )
    if not _changed(result):
        raise Conflict("This tip changed hands meanwhile; reload it.")
    session.refresh(tip)
    audit.record(session, actor.name, "tip.release", tip.reference)


def _may_work_on(session: Session, staff_id: int, tip_id: int) -> bool:
    return (
        session.scalar(
            select(func.count())
            .select_from(Membership)
            .join(Staff, Staff.id == Membership.staff_id)
            .join(TipUnit, TipUnit.unit_id == Membership.unit_id)
            .where(
                Membership.staff_id == staff_id,
                Staff.active.is_(True),
                TipUnit.tip_id == tip_id,
            )
        )
        or 0
    ) > 0


@counted
def set_status(
    session: Session,
    tip: Tip,
    actor: Actor,
    status: str,
    granularity: int,
    disposition: str | None = None,
    expected: str | None = None,
) -> None:
    """Move the tip to ``status``. Closing needs a disposition. ``expected`` is the status
    the actor saw: if the tip moved meanwhile, the change is refused (409)."""
    if status not in STATUSES:
        raise InvalidInput(f"Unknown status. Use one of: {', '.join(STATUSES)}.")
    if status == "referred":
        raise InvalidInput("Refer a tip to another unit with the referral action.")
    if expected is not None and expected not in STATUSES:
        raise InvalidInput("Unknown expected status.")
    current = expected or tip.status
    if status not in TRANSITIONS.get(current, ()):
        if current == status == "closed":
            raise Conflict("This tip is already closed.")
        raise Conflict(f"A tip that is {current.replace('_', ' ')} cannot become {status}.")
    if current == "closed" and not actor.supervises:
        raise Forbidden("Only a supervisor can reopen a closed tip.")
    if status == "closed":
        if disposition not in DISPOSITIONS:
            raise InvalidInput(f"Closing needs a disposition: one of {', '.join(DISPOSITIONS)}.")
    elif disposition is not None:
        raise InvalidInput("A disposition is given only when closing.")
    now = truncated_now(granularity)
    values: dict[str, object] = {
        "status": status,
        "triaged_at": func.coalesce(Tip.triaged_at, now),
        "disposition": disposition if status == "closed" else None,
        "closed_at": now if status == "closed" else None,
    }
    result = session.execute(
        update(Tip)
        .where(Tip.id == tip.id, Tip.status == current)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not _changed(result):
        raise Conflict("This tip changed meanwhile; reload it and try again.")
    session.refresh(tip)
    subject = f"{tip.reference} {current}->{status}" + (f" ({disposition})" if disposition else "")
    audit.record(session, actor.name, "tip.status", subject)


@counted
def refer(
    session: Session,
    tip: Tip,
    tip_key: PrivateKey,
    actor: Actor,
    unit_slug: str,
    granularity: int,
) -> None:
    """Make another unit the tip's primary unit: the tip key is sealed to that unit's
    current key; the referring unit keeps an info-only copy. Status "referred",
    unassigned, until someone in the new unit takes it."""
    if tip.status == "closed":
        raise Conflict("A closed tip cannot be referred; reopen it first.")
    unit = session.scalars(select(Unit).where(Unit.slug == unit_slug)).first()
    if unit is None:
        raise InvalidInput("No such unit.")
    rows = {
        row.unit_id: row for row in session.scalars(select(TipUnit).where(TipUnit.tip_id == tip.id))
    }
    current = rows.get(unit.id)
    if current is not None and current.role == "primary":
        raise Conflict("This tip is already with that unit.")
    for row in rows.values():
        if row.role == "primary":
            row.role = "info"
    if current is not None:
        current.role = "primary"
    else:
        session.add(TipUnit(tip_id=tip.id, unit_id=unit.id, role="primary"))
    key = current_unit_keys(session, (unit.slug,))[unit.slug]
    holder = h.unit_holder(unit.slug)
    have = session.scalar(
        select(func.count())
        .select_from(TipKeyGrant)
        .where(
            TipKeyGrant.tip_id == tip.id,
            TipKeyGrant.holder == holder,
            TipKeyGrant.holder_version == key.version,
        )
    )
    if not have:
        session.add(
            TipKeyGrant(
                tip_id=tip.id,
                holder=holder,
                holder_version=key.version,
                sealed_key=h.seal_tip_key(
                    tip_key, tip.reference, holder, key.version, key.public_key
                ),
            )
        )
    result = session.execute(
        update(Tip)
        .where(Tip.id == tip.id, Tip.status == tip.status)
        .values(
            status="referred",
            assignee_id=None,
            triaged_at=func.coalesce(Tip.triaged_at, truncated_now(granularity)),
        )
        .execution_options(synchronize_session=False)
    )
    if not _changed(result):
        raise Conflict("This tip changed meanwhile; reload it and try again.")
    session.flush()
    session.refresh(tip)
    audit.record(session, actor.name, "tip.refer", f"{tip.reference} -> {unit.slug}")


def add_note(session: Session, tip: Tip, actor: Actor, text: str, granularity: int) -> str:
    """A staff note, sealed to the tip (who wrote it and when are inside the seal)."""
    text = text.strip()
    if not text:
        raise InvalidInput("Write the note before saving it.", field="note")
    if len(text) > MAX_NOTE_CHARS:
        raise TooLarge(f"A note is at most {MAX_NOTE_CHARS} characters.", field="note")
    item_key = secrets.token_hex(16)
    payload = {
        "author_id": actor.staff_id,
        "text": text,
        "written_at": utcnow().isoformat(timespec="seconds"),
    }
    session.execute(
        insert(SealedItem).values(
            tip_id=tip.id,
            kind="note",
            item_key=item_key,
            created_at=truncated_now(granularity),
            ciphertext=h.seal_tip_item(
                tip.public_key, tip.reference, "note", item_key, json.dumps(payload).encode()
            ),
        )
    )
    audit.record(session, actor.name, "tip.note", tip.reference)
    return item_key


def read_notes(session: Session, tip: Tip, tip_key: PrivateKey) -> list[Note]:
    """The tip's notes, oldest first. Raises SealError if one does not open."""
    items = session.scalars(
        select(SealedItem)
        .where(SealedItem.tip_id == tip.id, SealedItem.kind == "note")
        .order_by(SealedItem.id)
    ).all()
    notes = []
    for item in items:
        if item.ciphertext is None:
            raise SealError("a note without its ciphertext")
        data = json.loads(
            h.open_tip_item(tip_key, tip.reference, "note", item.item_key, item.ciphertext)
        )
        notes.append(Note(int(data["author_id"]), data["text"], data["written_at"]))
    return notes


def set_tags(session: Session, tip: Tip, actor: Actor, tags: list[str]) -> list[str]:
    """Replace the tip's tags. Tags are stored in clear, so they are short slugs only
    (never free text that could carry what the tipster said)."""
    clean = sorted({t.strip().lower() for t in tags if t.strip()})
    bad = [t for t in clean if not TAG.fullmatch(t)]
    if bad:
        raise InvalidInput(
            "Tags are short labels: lowercase letters, digits and dashes, at most 32 characters.",
            field="tags",
        )
    if len(clean) > MAX_TAGS:
        raise InvalidInput(f"At most {MAX_TAGS} tags.", field="tags")
    session.execute(delete(TipTag).where(TipTag.tip_id == tip.id))
    if clean:
        session.execute(insert(TipTag), [{"tip_id": tip.id, "tag": t} for t in clean])
    audit.record(session, actor.name, "tip.tags", tip.reference)
    return clean


def tags_of(session: Session, tip_id: int) -> list[str]:
    return list(
        session.scalars(select(TipTag.tag).where(TipTag.tip_id == tip_id).order_by(TipTag.tag))
    )


def link(session: Session, tip: Tip, other: Tip, actor: Actor, kind: str) -> None:
    """Link two tips the actor can both open (the caller checked ``other`` too)."""
    if kind not in LINK_KINDS:
        raise InvalidInput(f"A link is one of: {', '.join(LINK_KINDS)}.")
    if other.id == tip.id:
        raise InvalidInput("A tip cannot be linked to itself.")
    existing = session.scalars(
        select(TipLink).where(
            ((TipLink.tip_id == tip.id) & (TipLink.linked_tip_id == other.id))
            | ((TipLink.tip_id == other.id) & (TipLink.linked_tip_id == tip.id))
        )
    ).first()
    if existing is not None:
        existing.kind = kind
    else:
        session.add(TipLink(tip_id=tip.id, linked_tip_id=other.id, kind=kind))
    audit.record(session, actor.name, "tip.link", f"{tip.reference} {kind} {other.reference}")


def links_of(session: Session, tip_id: int, unit_ids: set[int]) -> list[tuple[str, str]]:
    """(kind, reference) of the tips linked to ``tip_id`` that are in one of ``unit_ids``
    (the reader's units): a link never reveals that another unit's tip exists."""
    rows = session.execute(
        select(TipLink.kind, TipLink.tip_id, TipLink.linked_tip_id).where(
            (TipLink.tip_id == tip_id) | (TipLink.linked_tip_id == tip_id)
        )
    ).all()
    others = {(kind, b if a == tip_id else a) for kind, a, b in rows}
    refs = dict(
        session.execute(
            select(Tip.id, Tip.reference).where(
                Tip.id.in_({other for _, other in others}),
                Tip.id.in_(select(TipUnit.tip_id).where(TipUnit.unit_id.in_(unit_ids))),
            )
        ).all()
    )
    return sorted((kind, refs[other]) for kind, other in others if other in refs)


__all__ = [
    "DISPOSITIONS",
    "LINK_KINDS",
    "OPEN_STATUSES",
    "STATUSES",
    "TRANSITIONS",
    "Actor",
    "Note",
    "add_note",
    "assign",
    "claim",
    "link",
    "links_of",
    "read_notes",
    "refer",
    "release",
    "set_status",
    "set_tags",
    "tags_of",
]
