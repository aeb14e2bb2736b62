"""Place a committed tip in its unit queues. Idempotent: safe under at-least-once delivery."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tipline.models import OutboxEntry, Tip, TipUnit, Unit
from tipline.models.base import truncated_now
from tipline.stats.rollup import tracking


@dataclass(frozen=True)
class Placement:
    tip_id: int
    placed: bool  # False when an earlier delivery already placed it
    units: tuple[str, ...]  # the primary unit first
    priority: str
    category: str = ""


def place_tip(session: Session, tip_id: int, granularity_minutes: int) -> Placement | None:
    """Move the tip from "received" to "new" exactly once and delete its outbox entry.

    The conditional UPDATE is the guard: of two concurrent deliveries only one sees a row
    change, so a tip is never routed (or notified) twice.
    """
    with tracking(session, [tip_id]):  # now in a queue: counted by statistics
        result = session.execute(
            update(Tip)
            .where(Tip.id == tip_id, Tip.status == "received")
            .values(status="new", routed_at=truncated_now(granularity_minutes))
        )
    changed = result.rowcount  # type: ignore[attr-defined]  # a CursorResult for UPDATE
    # The promise is kept: forget it in the same transaction (see OutboxEntry).
    session.execute(
        delete(OutboxEntry).where(OutboxEntry.tip_id == tip_id, OutboxEntry.job == "route_tip")
    )
    tip = session.get(Tip, tip_id)
    if tip is None:
        return None  # deleted before routing: nothing to do
    slugs = tuple(
        session.scalars(
            select(Unit.slug)
            .join(TipUnit, TipUnit.unit_id == Unit.id)
            .where(TipUnit.tip_id == tip_id)
            .order_by(TipUnit.role.desc(), Unit.slug)
        )
    )
    return Placement(tip_id, changed == 1, slugs, tip.priority, tip.category)
