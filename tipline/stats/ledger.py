"""The release ledger: each month's statistics, made once and kept as published.

A month's release is every number of every table of the catalogue for that month (by
month, by week part, by day), decided together by the disclosure audit and written in
one transaction. It is made after the month has ended — by the scheduler, or by the
first request that needs it — and never again: every later answer about the month, by
anyone, in any format, is cut from these rows. So no two answers can disagree, a window
a day longer gives nothing new, and what a person holds is exactly what the audit saw.

The ledger holds published numbers only (withheld ones as null): aggregate data, no tip
id, no free text. Its growth is a release a month — a few hundred small rows — whatever
the number of exports.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tipline.models import StatsRelease, StatsReleaseTable, Tip
from tipline.models.base import truncated_now
from tipline.settings import Settings
from tipline.stats import cube as cubes
from tipline.stats import periods, protect
from tipline.stats.catalogue import SCHEME, Table
from tipline.stats.cube import NO_ZONE
from tipline.triage.config import TiplineConfig

log = logging.getLogger(__name__)

TIME_STATS = ("triage_median_h", "triage_p90_h", "close_median_h", "close_p90_h")


@dataclass(frozen=True)
class Released:
    """One month's release as read back: for each (population, table), its cells by
    (period start, key) -> count (None: withheld) and time statistics."""

    month: date
    made_at: datetime
    k: int
    rounding: bool
    tables: dict[
        tuple[str, Table],
        dict[tuple[date, tuple[str, ...]], tuple[int | None, dict[str, float | None]]],
    ]


def _lock(session: Session, month: date) -> None:
    """One maker per month: a second request waits for the first, then finds its rows."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"),
            {"key": zlib.crc32(f"tipline-stats-{month.isoformat()}".encode())},
        )


def made(session: Session, months: list[date]) -> dict[date, StatsRelease]:
    rows = session.scalars(select(StatsRelease).where(StatsRelease.month.in_(months)))
    return {row.month: row for row in rows}


def ensure(
    session: Session,
    config: TiplineConfig,
    settings: Settings,
    months: list[date],
) -> dict[date, StatsRelease]:
    """The releases of ``months`` (all ended), making those missing, in the caller's
    transaction: the answer that needed them and the ledger commit together."""
    found = made(session, months)
    for month in months:
        if month in found:
            continue
        _lock(session, month)
        again = made(session, [month])
        found[month] = again[month] if again else make(session, config, settings, month)
    return found


def make(session: Session, config: TiplineConfig, settings: Settings, month: date) -> StatsRelease:
    """Count, protect and record one month."""
    tz = ZoneInfo(settings.timezone)
    cube = cubes.load(session, config, month, tz)
    cells = cubes.cells_of(cube)
    k, rounding = settings.stats_k, settings.stats_rounding
    decision = protect.decide(cells, cube, k, rounding=rounding, secret=settings.secret_key)
    times = _times(session, config, month, tz, cells, decision, k)
    release = StatsRelease(
        month=month,
        made_at=truncated_now(settings.time_granularity_minutes),
        k=k,
        rounding=rounding,
        scheme=SCHEME,
        published=len(cells),
        withheld=int(decision.withheld.sum()),
        by_audit=decision.added_by_audit,
    )
    session.add(release)
    session.flush()
    rows: dict[tuple[str, Table], list[list[object]]] = defaultdict(list)
    for i in range(len(cells)):
        table = cells.table[i]
        count = None if decision.withheld[i] else int(decision.shown[i])
        row: list[object] = [cells.bucket[i].isoformat(), *cells.key[i], count]
        if table.timed:
            row += [times.get(i, {}).get(name) for name in TIME_STATS]
        rows[(cells.population[i], table)].append(row)
    session.add_all(
        StatsReleaseTable(
            release_id=release.id,
            population=population,
            grouping=table.name,
            level=table.level,
            cells=json.dumps(cells_rows, separators=(",", ":"), ensure_ascii=False),
        )
        for (population, table), cells_rows in sorted(rows.items())
    )
    session.flush()
    log.info(
        "statistics of %s released: %d numbers, %d withheld (%d by the audit)",
        month.strftime("%Y-%m"),
        len(cells),
        release.withheld,
        decision.added_by_audit,
    )
    return release


def _times(
    session: Session,
    config: TiplineConfig,
    month: date,
    tz: ZoneInfo,
    cells: cubes.Cells,
    decision: protect.Decision,
    k: int,
) -> dict[int, dict[str, float | None]]:
    """Median and 90th-percentile hours to first triage and to closing for the published
    cells of the timed tables, each from k or more tips that have that time (read from
    the month's tips: once per month, bounded by one month's tips)."""
    start, end = periods.utc_bounds(month, periods.next_month(month), tz)
    rows = session.execute(
        select(Tip.zone, Tip.category, Tip.received_at, Tip.triaged_at, Tip.closed_at).where(
            Tip.status != "received", Tip.received_at >= start, Tip.received_at < end
        )
    ).all()
    if not rows:
        return {}
    provinces = {zone.id: zone.province for zone in config.zones.values()}
    # Hours by place and category first (a few dozen groups), then per cell.
    groups: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(
        lambda: {"triage": [], "close": []}
    )
    for zone, category, received, triaged, closed in rows:
        group = groups[(zone or NO_ZONE, provinces.get(zone or "", NO_ZONE), category)]
        if triaged is not None:
            group["triage"].append((triaged - received).total_seconds() / 3600)
        if closed is not None:
            group["close"].append((closed - received).total_seconds() / 3600)
    position = {"zone": 0, "province": 1, "category": 2}
    found: dict[int, dict[str, float | None]] = {}
    for i in range(len(cells)):
        table = cells.table[i]
        if not table.timed or decision.withheld[i]:
            continue
        wanted = [
            (position[key], value) for key, value in zip(table.keys, cells.key[i], strict=True)
        ]
        members = [g for place, g in groups.items() if all(place[p] == v for p, v in wanted)]
        stats: dict[str, float | None] = {}
        for kind in ("triage", "close"):
            values = [h for g in members for h in g[kind]]
            # Shown when k or more of the cell's tips have that time (a time of fewer
            # would describe those tips). Whether it is shown is itself published, and
            # the audit counted it: it is decided from the same counts the audit used.
            if cells.timed_count(i, kind) >= k and values:
                stats[f"{kind}_median_h"] = round(float(np.percentile(values, 50)), 1)
                stats[f"{kind}_p90_h"] = round(float(np.percentile(values, 90)), 1)
            else:
                stats[f"{kind}_median_h"] = stats[f"{kind}_p90_h"] = None
        found[i] = stats
    return found


def read(
    session: Session, releases: dict[date, StatsRelease], tables: list[Table]
) -> dict[date, Released]:
    """The rows of ``tables`` in each release."""
    if not releases:
        return {}
    by_id = {release.id: release for release in releases.values()}
    wanted = {(t.name, t.level): t for t in tables}
    out: dict[date, Released] = {
        r.month: Released(r.month, r.made_at, r.k, r.rounding, {}) for r in releases.values()
    }
    rows = session.execute(
        select(
            StatsReleaseTable.release_id,
            StatsReleaseTable.population,
            StatsReleaseTable.grouping,
            StatsReleaseTable.level,
            StatsReleaseTable.cells,
        ).where(
            StatsReleaseTable.release_id.in_(list(by_id)),
            StatsReleaseTable.level.in_({t.level for t in tables}),
            StatsReleaseTable.grouping.in_({t.name for t in tables}),
        )
    )
    for release_id, population, grouping, level, payload in rows:
        table = wanted.get((grouping, level))
        if table is None:
            continue
        parsed: dict[tuple[date, tuple[str, ...]], tuple[int | None, dict[str, float | None]]] = {}
        width = len(table.keys)
        for row in json.loads(payload):
            bucket = date.fromisoformat(row[0])
            key = tuple(row[1 : 1 + width])
            count = row[1 + width]
            times = dict(zip(TIME_STATS, row[2 + width :], strict=False)) if table.timed else {}
            parsed[(bucket, key)] = (count, times)
        out[by_id[release_id].month].tables[(population, table)] = parsed
    return out


__all__ = ["TIME_STATS", "Released", "ensure", "made", "make", "read"]
