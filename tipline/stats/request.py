"""What a statistics export asks for, checked once for the CLI, the API and the pages.

A window is whole periods of its grid (days; weeks Monday to Sunday; months) that are in
months already released: a month's statistics are made once it has ended. A window that
is not whole periods, or reaches past the last released day, is refused with the
nearest valid bounds in the message: nothing is snapped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from tipline.errors import InvalidInput
from tipline.stats import periods
from tipline.stats.catalogue import KEYS, PERIODS, canonical, refusal

FORMATS = ("csv", "json", "geojson")
# The most periods one export may hold: a daily export of ten years would be 3,650
# columns per zone and category, which no chart or spreadsheet reader wants.
MAX_SPAN = {
    "day": timedelta(days=366),
    "week": timedelta(days=366 * 3),
    "month": timedelta(days=366 * 10),
}
DEFAULT_SPAN = {"day": 31, "week": 12, "month": 12}  # periods, ending at the last one


@dataclass(frozen=True)
class StatsRequest:
    by: tuple[str, ...]  # as asked, "period" included when asked
    period: str  # the grid
    start: date  # first day, inclusive: the start of a period
    end: date  # exclusive: the day after the last period
    format: str = "json"

    @property
    def keys(self) -> tuple[str, ...]:
        """The grouping keys besides the period, in catalogue order."""
        return canonical([k for k in self.by if k != "period"])

    @property
    def months(self) -> list[date]:
        return periods.months_between(self.start, self.end)


def last_day(last_month: date, period: str) -> date:
    """The last day a window of ``period`` may end on, given the last released month."""
    end = periods.month_end(last_month)
    if period == "week":
        return end - timedelta(days=(end.weekday() + 1) % 7)  # the last Sunday
    return end


def parse(
    by: str,
    period: str,
    start: str | None,
    end: str | None,
    fmt: str,
    *,
    last_month: date,
) -> StatsRequest:
    """A checked request, or InvalidInput naming the parameter (API 400, CLI exit 2)."""
    asked = tuple(key.strip() for key in by.split(",") if key.strip())
    if not asked:
        raise InvalidInput(f"by: one or more of period, {', '.join(KEYS)}.", field="by")
    unknown = [key for key in asked if key not in (*KEYS, "period")]
    if unknown:
        raise InvalidInput(
            f"by: unknown grouping {', '.join(unknown)}; use period, {', '.join(KEYS)}.",
            field="by",
        )
    if len(set(asked)) != len(asked):
        raise InvalidInput("by: each grouping once.", field="by")
    if period not in PERIODS:
        raise InvalidInput(f"period: one of {', '.join(PERIODS)}.", field="period")
    why = refusal(canonical([k for k in asked if k != "period"]), period)
    if why:
        raise InvalidInput(why, field="by")
    if fmt not in FORMATS:
        raise InvalidInput(f"format: one of {', '.join(FORMATS)}.", field="format")
    if fmt == "geojson" and "zone" not in asked and "province" not in asked:
        raise InvalidInput("format geojson needs by=zone (or province).", field="format")
    final = last_day(last_month, period)
    try:
        last = date.fromisoformat(end) if end else final
        first = date.fromisoformat(start) if start else _default_start(last, period)
    except ValueError:
        raise InvalidInput("from/to: dates as YYYY-MM-DD.", field="from") from None
    if first != periods.period_start(first, period):
        before = periods.period_start(first, period)
        raise InvalidInput(
            f"from: {first} is not the first day of a {period}; a window is whole "
            f"{period}s: use {before} or {periods.period_after(before, period)}.",
            field="from",
        )
    stop = last + timedelta(days=1)  # "to" is inclusive for people, exclusive here
    if stop != periods.period_start(stop, period):
        ends = periods.period_start(last, period)
        raise InvalidInput(
            f"to: {last} is not the last day of a {period}; a window is whole {period}s: "
            f"use {ends - timedelta(days=1)} or "
            f"{periods.period_after(ends, period) - timedelta(days=1)}.",
            field="to",
        )
    if last > final:
        raise InvalidInput(
            "to: statistics are published for whole months once they have ended; "
            f"the last {period} published ends on {final}.",
            field="to",
        )
    if stop <= first:
        raise InvalidInput("from/to: the range is empty or inverted.", field="from")
    if stop - first > MAX_SPAN[period]:
        raise InvalidInput(
            f"from/to: too long a range for period={period} "
            f"(at most {MAX_SPAN[period].days} days).",
            field="to",
        )
    return StatsRequest(asked, period, first, stop, fmt)


def _default_start(last: date, period: str) -> date:
    start = periods.period_start(last, period)
    for _ in range(DEFAULT_SPAN[period] - 1):
        start = periods.period_start(start - timedelta(days=1), period)
    return start


__all__ = ["DEFAULT_SPAN", "FORMATS", "MAX_SPAN", "StatsRequest", "last_day", "parse"]
