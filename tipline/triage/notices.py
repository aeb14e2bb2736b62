"""Who is told what, and when: a new tip for its unit, and tips overdue for triage.

Notices are content-free (tipline.notify). Each is promised by an outbox row committed
with what it is about (the tip's routing, the overdue marks) and sent by a job that
forgets the row once the mail server took the messages: a mail server that is down
delays a notice, never loses it. A notice may be sent twice (a worker killed between the
send and the delete), never not at all. Overdue tips are marked once, in the same
statement that finds them, so two schedulers never escalate a tip twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tipline import audit, notify, outbox
from tipline.db import transaction
from tipline.models import OutboxEntry, Tip, TipUnit
from tipline.models.unit import Unit
from tipline.outbox import Work
from tipline.runtime import Runtime
from tipline.triage.config import PRIORITIES
from tipline.triage.placement import Placement

WAITING_FOR_TRIAGE = ("new", "referred")
STAFF_ROLES = ("investigator", "supervisor")
SUPERVISORS = ("supervisor",)


def _staff_url(runtime: Runtime) -> str:
    return runtime.settings.public_url.rstrip("/") + "/staff/"


def _unit_name(runtime: Runtime, slug: str) -> str:
    spec = runtime.config.units.get(slug)
    return spec.name if spec else slug


class NoticeNotSent(Exception):
    """The mail server failed: the job fails, RQ retries it, then the sweeper."""


def _promise(
    session: Session, runtime: Runtime, tip_id: int | None, payload: dict[str, Any]
) -> Work:
    return outbox.add(
        session,
        outbox.NOTIFY_STAFF,
        tip_id=tip_id,
        payload=payload,
        relay_key=runtime.settings.relay_key,
        granularity_minutes=runtime.settings.time_granularity_minutes,
    )


def promise_new_tip(session: Session, runtime: Runtime, placement: Placement) -> Work | None:
    """Stage the notice that a tip waits in its primary unit's queue (the caller commits
    it with the placement, then enqueues the Work)."""
    if not placement.units:
        return None
    payload = {
        "notice": "new_tip",
        "unit": placement.units[0],
        "priority": placement.priority,
        "category": placement.category,
    }
    return _promise(session, runtime, placement.tip_id, payload)


def _compose(runtime: Runtime, payload: dict[str, Any]) -> tuple[notify.Notice, tuple[str, ...]]:
    """The notice a row promised, and the roles of the unit's staff it goes to."""
    unit = _unit_name(runtime, payload["unit"])
    if payload["notice"] == "new_tip":
        category = runtime.config.categories.get(payload["category"])
        name = category.names["en"] if category else payload["category"]
        return notify.new_tip(payload["priority"], unit, name, _staff_url(runtime)), STAFF_ROLES
    if payload["notice"] == "overdue":
        notice = notify.overdue(payload["count"], payload["priority"], unit, _staff_url(runtime))
        return notice, SUPERVISORS
    raise ValueError(f"unknown notice {payload['notice']!r}")


def deliver(runtime: Runtime, outbox_id: int) -> bool:
    """Send the notice an outbox row promised, then forget the row. False if it was sent
    before (or its tip is gone); raises NoticeNotSent while the mail server fails."""
    with runtime.sessions() as session:
        entry = session.get(OutboxEntry, outbox_id)
        if entry is None or entry.job != outbox.NOTIFY_STAFF:
            return False
        payload = outbox.payload_of(entry, runtime.settings.relay_key)
        notice, roles = _compose(runtime, payload)
        to = notify.recipients(session, (payload["unit"],), roles)
    if not notify.send(runtime.settings, to, notice):
        raise NoticeNotSent("mail server error; the notice will be sent again")
    with transaction(runtime.sessions) as session:
        session.execute(delete(OutboxEntry).where(OutboxEntry.id == outbox_id))
    return True


def escalate_overdue(runtime: Runtime, now: datetime) -> tuple[int, tuple[Work, ...]]:
    """Mark the tips waiting for triage past their priority's deadline, audit each, and
    promise their primary unit's supervisors a notice (one per unit and priority).
    Returns how many tips were marked, and the committed notices to enqueue."""
    hours = runtime.config.policy.first_triage_hours
    marked: list[tuple[int, str, str]] = []
    with transaction(runtime.sessions) as session:
        for priority in PRIORITIES:
            deadline = now - timedelta(hours=hours[priority])
            rows = session.execute(
                update(Tip)
                .where(
                    Tip.status.in_(WAITING_FOR_TRIAGE),
                    Tip.sla_breached.is_(False),
                    Tip.priority == priority,
                    Tip.received_at < deadline,
                )
                .values(sla_breached=True)
                .returning(Tip.id, Tip.reference)
            ).all()
            marked += [(tip_id, reference, priority) for tip_id, reference in rows]
        primaries = dict(
            session.execute(
                select(TipUnit.tip_id, Unit.slug)
                .join(Unit, Unit.id == TipUnit.unit_id)
                .where(TipUnit.tip_id.in_([m[0] for m in marked]), TipUnit.role == "primary")
            ).all()
        )
        for _tip_id, reference, _priority in marked:
            audit.record(session, "system", "tip.sla_breach", reference)
        # One notice per unit and priority, promised with the marks themselves.
        per_unit = Counter((primaries.get(tip_id, ""), priority) for tip_id, _, priority in marked)
        work = [
            _promise(
                session,
                runtime,
                None,
                {"notice": "overdue", "unit": slug, "priority": priority, "count": count},
            )
            for (slug, priority), count in sorted(per_unit.items())
            if slug
        ]
    return len(marked), tuple(work)
