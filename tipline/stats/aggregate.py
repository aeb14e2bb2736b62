"""Counting tips by zone, category, period, … in SQL, over clear routing metadata only.

PostgreSQL does it all in one GROUP BY (periods in the service's time zone, medians and
90th percentiles with percentile_cont). SQLite (the embedded demo) has neither time
zones nor percentiles: there the same cells are computed from the rows in Python. Both
paths are tested to give the same cells.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, func, literal, select
from sqlalchemy.orm import Session

from tipline.models import SealedItem, Tip, TipUnit
from tipline.stats.request import StatsRequest
from tipline.triage.config import TiplineConfig

NO_ZONE = "needs-zone"  # tips whose place is in no zone (yet)
NONE = "none"  # no disposition (not closed)
TIME_STATS = ("triage_median_h", "triage_p90_h", "close_median_h", "close_p90_h")


@dataclass
class Cell:
    key: tuple[str, ...]
    count: int
    sla_breaches: int = 0
    rewards: int = 0  # tips with a reward decision recorded
    times: dict[str, float | None] = field(default_factory=dict)  # hours, see TIME_STATS


def period_start(moment: datetime, period: str, tz: ZoneInfo) -> date:
    local = moment.astimezone(tz).date()
    if period == "day":
        return local
    if period == "week":  # ISO weeks start on Monday, as PostgreSQL's date_trunc('week')
        return local - timedelta(days=local.weekday())
    return local.replace(day=1)


def _bounds(request: StatsRequest, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(request.start, time(), tz).astimezone(UTC)
    end = datetime.combine(request.end, time(), tz).astimezone(UTC)
    return start, end


def _scope(
    query: Select[Any], request: StatsRequest, tz: ZoneInfo, unit_ids: set[int] | None
) -> Select[Any]:
    start, end = _bounds(request, tz)
    query = query.where(Tip.status != "received", Tip.received_at >= start, Tip.received_at < end)
    if unit_ids is not None:
        # A supervisor's units: each tip once, whatever the number of its units.
        query = query.where(Tip.id.in_(select(TipUnit.tip_id).where(TipUnit.unit_id.in_(unit_ids))))
    return query


def count(
    session: Session,
    config: TiplineConfig,
    request: StatsRequest,
    tz: ZoneInfo,
    unit_ids: set[int] | None,
) -> list[Cell]:
    """The cells of ``request``: every combination of its keys that has tips."""
    if session.get_bind().dialect.name == "postgresql":
        return _count_sql(session, config, request, tz, unit_ids)
    return _count_rows(session, config, request, tz, unit_ids)


def _province_of(config: TiplineConfig):  # type: ignore[no-untyped-def]
    whens = {zone.id: zone.province for zone in config.zones.values()}
    return case(whens, value=Tip.zone, else_=literal(NO_ZONE)) if whens else literal(NO_ZONE)


def _key_columns(config: TiplineConfig, request: StatsRequest, tz: ZoneInfo) -> list[Any]:
    columns = {
        "zone": func.coalesce(Tip.zone, NO_ZONE),
        "province": _province_of(config),
        "category": Tip.category,
        "status": Tip.status,
        "disposition": func.coalesce(Tip.disposition, NONE),
        "priority": Tip.priority,
        "channel": Tip.channel,
        "period": func.date_trunc(request.period, func.timezone(str(tz.key), Tip.received_at)),
    }
    return [columns[key].label(f"k{i}") for i, key in enumerate(request.by)]


def _count_sql(
    session: Session,
    config: TiplineConfig,
    request: StatsRequest,
    tz: ZoneInfo,
    unit_ids: set[int] | None,
) -> list[Cell]:
    keys = _key_columns(config, request, tz)
    triage = Tip.triaged_at - Tip.received_at
    close = Tip.closed_at - Tip.received_at
    rewarded = Tip.id.in_(select(SealedItem.tip_id).where(SealedItem.kind == "reward"))

    def pct(share: float, interval: Any, present: Any) -> Any:
        return (
            func.percentile_cont(share)
            .within_group(func.extract("epoch", interval) / 3600.0)
            .filter(present)
        )

    query = select(
        *keys,
        func.count(),
        func.count().filter(Tip.sla_breached.is_(True)),
        func.count().filter(rewarded),
        pct(0.5, triage, Tip.triaged_at.is_not(None)),
        pct(0.9, triage, Tip.triaged_at.is_not(None)),
        pct(0.5, close, Tip.closed_at.is_not(None)),
        pct(0.9, close, Tip.closed_at.is_not(None)),
    ).group_by(*keys)
    cells = []
    for row in session.execute(_scope(query, request, tz, unit_ids)):
        key = tuple(_text(v) for v in row[: len(keys)])
        n, breaches, rewards, *times = row[len(keys) :]
        cells.append(
            Cell(
                key,
                n,
                breaches,
                rewards,
                {name: _round(v) for name, v in zip(TIME_STATS, times, strict=True)},
            )
        )
    return cells


def _text(value: object) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _round(value: object) -> float | None:
    return None if value is None else round(float(value), 1)  # type: ignore[arg-type]


def _count_rows(
    session: Session,
    config: TiplineConfig,
    request: StatsRequest,
    tz: ZoneInfo,
    unit_ids: set[int] | None,
) -> list[Cell]:
    rewarded = set(session.scalars(select(SealedItem.tip_id).where(SealedItem.kind == "reward")))
    query = select(
        Tip.id, Tip.zone, Tip.category, Tip.status, Tip.disposition, Tip.priority, Tip.channel,
        Tip.received_at, Tip.triaged_at, Tip.closed_at, Tip.sla_breached,
    )  # fmt: skip
    provinces = {zone.id: zone.province for zone in config.zones.values()}
    groups: dict[tuple[str, ...], list[Any]] = defaultdict(list)
    for row in session.execute(_scope(query, request, tz, unit_ids)):
        values = {
            "zone": row.zone or NO_ZONE,
            "province": provinces.get(row.zone or "", NO_ZONE),
            "category": row.category,
            "status": row.status,
            "disposition": row.disposition or NONE,
            "priority": row.priority,
            "channel": row.channel,
            "period": period_start(row.received_at, request.period, tz).isoformat(),
        }
        groups[tuple(values[k] for k in request.by)].append(row)
    cells = []
    for key, rows in groups.items():
        triage = [
            (r.triaged_at - r.received_at).total_seconds() / 3600 for r in rows if r.triaged_at
        ]
        close = [(r.closed_at - r.received_at).total_seconds() / 3600 for r in rows if r.closed_at]
        cells.append(
            Cell(
                key,
                len(rows),
                sum(1 for r in rows if r.sla_breached),
                sum(1 for r in rows if r.id in rewarded),
                {
                    "triage_median_h": _round(_percentile(triage, 0.5)),
                    "triage_p90_h": _round(_percentile(triage, 0.9)),
                    "close_median_h": _round(_percentile(close, 0.5)),
                    "close_p90_h": _round(_percentile(close, 0.9)),
                },
            )
        )
    return cells


def _percentile(values: list[float], share: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont."""
    if not values:
        return None
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


__all__ = ["NONE", "NO_ZONE", "TIME_STATS", "Cell", "count", "period_start"]
