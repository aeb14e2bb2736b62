"""Who is told what, and when: a new tip for its unit, and tips overdue for triage.

Notices are content-free (tipline.notify). Overdue tips are marked once, in the same
statement that finds them, so two schedulers never escalate a tip twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select, update

from tipline import audit, notify
from tipline.db import transaction
from tipline.models import Tip, TipUnit
from tipline.models.unit import Unit
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


def announce_new_tip(runtime: Runtime, placement: Placement) -> bool:
    """Tell the primary unit's investigators and supervisors that a tip is waiting."""
    if not placement.units:
        return True
    primary = placement.units[0]
    category = runtime.config.categories.get(placement.category)
    notice = notify.new_tip(
        placement.priority,
        _unit_name(runtime, primary),
        category.names["en"] if category else placement.category,
        _staff_url(runtime),
    )
    with runtime.sessions() as session:
        to = notify.recipients(session, (primary,), STAFF_ROLES)
    return notify.send(runtime.settings, to, notice)


def escalate_overdue(runtime: Runtime, now: datetime) -> int:
    """Mark the tips waiting for triage past their priority's deadline, audit each, and
    tell the supervisors of their primary unit (one notice per unit and priority).
    Returns how many tips were marked."""
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
    per_unit = Counter((primaries.get(tip_id, ""), priority) for tip_id, _, priority in marked)
    for (slug, priority), count in sorted(per_unit.items()):
        if not slug:
            continue
        with runtime.sessions() as session:
            to = notify.recipients(session, (slug,), SUPERVISORS)
        notify.send(
            runtime.settings,
            to,
            notify.overdue(count, priority, _unit_name(runtime, slug), _staff_url(runtime)),
        )
    return len(marked)
