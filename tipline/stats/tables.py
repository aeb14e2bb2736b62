"""An answer to a statistics request, cut from the months' releases only.

Every number in an answer is a release's published number, or a sum of them over whole
periods: a week that straddles two months adds its two parts, a window adds its months
(or, for a window of weeks or days, its week parts or days). A sum is shown only when
each of its parts is; otherwise it is withheld. So an answer carries nothing the
releases did not already publish, and any two answers agree wherever they overlap.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.orm import Session

from tipline.models import StatsRelease
from tipline.settings import Settings
from tipline.stats import ledger, periods
from tipline.stats.catalogue import ALL, SCHEME, Table, canonical
from tipline.stats.request import StatsRequest
from tipline.triage.config import TiplineConfig

Piece = tuple[date, str, date]  # (the month's release, its table level, the period start)


@dataclass
class Entry:
    key: tuple[str, ...]  # in the order asked; "*" where a total sums over a key
    count: int | None  # None: withheld
    times: dict[str, float | None] = field(default_factory=dict)

    @property
    def withheld(self) -> bool:
        return self.count is None


@dataclass
class Answer:
    by: tuple[str, ...]
    cells: list[Entry]
    totals: list[Entry]
    method: dict[str, object]


def _pieces_of_period(start: date, period: str) -> list[Piece]:
    """The release parts one period adds up: a week that straddles two months has two."""
    if period == "month":
        return [(start, "month", start)]
    if period == "day":
        return [(periods.month_start(start), "day", start)]
    stop = start + timedelta(days=7)
    return [(m, "week", max(start, m)) for m in periods.months_between(start, stop)]


def _pieces_of_window(request: StatsRequest) -> list[Piece]:
    """The window in the coarsest release parts that tile it."""
    found: list[Piece] = []
    for month in request.months:
        after = periods.next_month(month)
        if request.start <= month and after <= request.end:
            found.append((month, "month", month))
            continue
        day = max(month, request.start)
        stop = min(after, request.end)
        if request.period == "week":
            found += [
                (month, "week", p)
                for p in sorted(set(periods.week_parts(month)))
                if day <= p < stop
            ]
        else:
            found += [(month, "day", day + timedelta(days=i)) for i in range((stop - day).days)]
    return found


def answer(
    session: Session,
    config: TiplineConfig,
    settings: Settings,
    request: StatsRequest,
    *,
    make_missing: bool = True,
) -> Answer:
    """The answer, with its method. The months' releases are made here if missing, in the
    caller's transaction; with ``make_missing`` false (the public page: no one signed
    in may set that work off), a month not yet released counts as no tips."""
    if make_missing:
        releases = ledger.ensure(session, config, settings, request.months)
    else:
        releases = ledger.made(session, request.months)
    keys = request.keys
    wanted = [
        Table(canonical(subset), level)
        for size in range(len(keys) + 1)
        for subset in itertools.combinations(keys, size)
        for level in ("month", "week", "day")
    ]
    read = ledger.read(session, releases, wanted)
    by = request.by
    with_period = "period" in by
    grids: list[tuple[date, list[Piece]]] = []  # one entry per period of the window
    start = request.start
    while start < request.end:
        grids.append((start, _pieces_of_period(start, request.period)))
        start = periods.period_after(start, request.period)
    # A total over the window always adds the same pieces, whatever the grouping asked:
    # the coarsest that tile it (the fewest parts, so the fewest withheld).
    window = [(request.start, _pieces_of_window(request))]

    def entries(subset: tuple[str, ...], period_kept: bool) -> list[Entry]:
        """Entries of the table that keeps ``subset`` (and the period if kept), with
        "*" in the positions of ``by`` it sums over."""
        table_keys = canonical(subset)
        out = []
        groups = grids if period_kept else window
        for period_start, pieces in groups:
            values: dict[tuple[str, ...], list[int | None]] = {}
            timed: dict[tuple[str, ...], dict[str, float | None]] = {}
            for month, level, bucket in pieces:
                if month not in read:
                    continue  # not released (the public page does not make releases)
                table = Table(table_keys, level)
                cells = read[month].tables.get((ALL, table), {})
                for (cell_bucket, key), (count, times) in cells.items():
                    if cell_bucket == bucket:
                        values.setdefault(key, []).append(count)
                        timed[key] = times
            # Times are a month's, shown where the entry is one month's cell. (Whether a
            # cell shows them says whether k of its tips have them: that fact is in the
            # audit for the month's cells, and would be ambiguous for a sum of months.)
            if not (len(pieces) == 1 and pieces[0][1] == "month"):
                timed = {}
            for key, parts in values.items():
                # Sums over the pieces: a piece where the key is absent counts 0.
                shown = [p for p in parts if p is not None]
                count = sum(shown) if len(shown) == len(parts) else None
                named = dict(zip(table_keys, key, strict=True))
                row = tuple(
                    (period_start.isoformat() if period_kept else ALL)
                    if k == "period"
                    else named.get(k, ALL)
                    for k in by
                )
                out.append(Entry(row, count, timed.get(key, {}) if count is not None else {}))
        return sorted(out, key=lambda e: e.key)

    cells = entries(keys, with_period)
    totals: list[Entry] = []
    for size in range(len(by)):
        for subset in itertools.combinations(by, size):
            totals += entries(tuple(k for k in subset if k != "period"), "period" in subset)
    return Answer(by, cells, totals, _method(settings, request, releases))


def _method(
    settings: Settings,
    request: StatsRequest,
    releases: dict[date, StatsRelease],
) -> dict[str, object]:
    made = {m.strftime("%Y-%m"): r.made_at.isoformat() for m, r in sorted(releases.items())}
    ks = {release.k for release in releases.values()}
    rounding = {release.rounding for release in releases.values()}
    # Months made with different k (the setting changed): say the smallest, the weakest.
    k = min(ks) if ks else settings.stats_k
    return {
        "rule": (
            f"Counts of 1 to {k - 1} tips are withheld, and so is every other number that "
            "would let one be worked out. For every withheld count, Tipline has found another "
            "set of tips that gives every number it has published about that month — every "
            "table, every period, every format, the public page — and holds "
            f"{k - 1} or more tips in that count: whoever holds all of them cannot prove it "
            f"is below {k - 1}, so a lone tip cannot be told from {k - 1}."
        ),
        "k": k,
        "rounding": (
            "random rounding to base 5 (keyed, repeatable); the audit allows for it"
            if rounding == {True}
            else "none"
            if rounding <= {False}
            else "by month: see each month's release"
        ),
        "zeros": "combinations without tips are not listed",
        "grouping": list(request.by),
        "period": request.period,
        "from": request.start.isoformat(),
        "to": (request.end - timedelta(days=1)).isoformat(),
        "to_is": "inclusive",
        "window": (
            f"whole {request.period}s in months that have ended; a total over several "
            "months, weeks or days is shown only when each of its parts is"
        ),
        "time_zone": settings.timezone,
        "population": "the tips of every unit (no statistics describe a single unit)",
        "counted": (
            "tips in a queue, by the day they were received; status and outcome as they "
            "stood when the month's statistics were made"
        ),
        "released": made,
        "times": (
            "hours from receipt to first triage and to closing (median, 90th percentile), "
            f"for a single month's cells of at least {k} tips with that time"
        ),
        "scheme": SCHEME,
    }


__all__ = ["Answer", "Entry", "answer"]
