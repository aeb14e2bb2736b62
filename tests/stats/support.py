"""Tips for statistics tests: only the clear metadata statistics read (nothing to decrypt),
written straight to the tables as a bulk load would, then counted into the rollup with
the repair a bulk load is followed by (``tipline stats repair``)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import insert, select

from tipline.db import transaction
from tipline.models import Tip, TipUnit
from tipline.models.unit import Unit
from tipline.stats import rollup


def add_tips(runtime, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    """As the workflow leaves them: a tip past "new" has a triage time, a closed one a
    closing time (statistics rely on it: a cell shows its times when k of its tips have
    left "new", or are closed)."""
    with transaction(runtime.sessions) as session:
        units = dict(session.execute(select(Unit.slug, Unit.id)).all())
        for row in rows:
            row = dict(row)
            unit = row.pop("unit", "on-north-general")
            status = row.get("status", "new")
            if status != "new" and row.get("triaged_at") is None:
                row["triaged_at"] = row["received_at"] + timedelta(hours=1)
            if status == "closed" and row.get("closed_at") is None:
                row["closed_at"] = row["received_at"] + timedelta(hours=3)
            tip_id = session.execute(
                insert(Tip)
                .values(
                    reference=secrets.token_hex(5).upper(),
                    channel=row.pop("channel", "web"),
                    priority=row.pop("priority", "normal"),
                    status=row.pop("status", "new"),
                    public_key=b"k" * 32,
                    key_version=1,
                    **row,
                )
                .returning(Tip.id)
            ).scalar_one()
            session.execute(
                insert(TipUnit).values(tip_id=tip_id, unit_id=units[unit], role="primary")
            )
        rollup.repair(session)
