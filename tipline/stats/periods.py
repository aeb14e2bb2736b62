"""Whole periods in the service's time zone: days, ISO weeks (Monday to Sunday), months.

Statistics are published for whole months that have ended: a month's release is made
once, RELEASE_DELAY after its last day, and covers that month's days and weeks too. A
week that straddles two months is the sum of its two parts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A tip received late on the last evening is normally in its queue within seconds; an
# hour leaves room for a short outage before the month is counted for good.
RELEASE_DELAY = timedelta(hours=1)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def month_end(month: date) -> date:
    """The last day of ``month`` (inclusive)."""
    return next_month(month) - timedelta(days=1)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def months_between(start: date, end: date) -> list[date]:
    """First days of the months that [start, end) touches (``end`` exclusive)."""
    months, month = [], month_start(start)
    while month < end:
        months.append(month)
        month = next_month(month)
    return months


def days_of(month: date) -> list[date]:
    return [month + timedelta(days=i) for i in range((next_month(month) - month).days)]


def week_parts(month: date) -> list[date]:
    """For each day of ``month``, the first day of its week part (its ISO week cut at
    the month's edges): the label of a by-week bucket inside a month's release."""
    return [max(week_start(day), month) for day in days_of(month)]


def utc_bounds(first: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[first, end) in local days, as UTC instants."""
    return (
        datetime.combine(first, time(), tz).astimezone(UTC),
        datetime.combine(end, time(), tz).astimezone(UTC),
    )


def last_released_month(now: datetime, tz: ZoneInfo) -> date:
    """The latest month whose statistics may be published at ``now``."""
    month = month_start((now - RELEASE_DELAY).astimezone(tz).date())
    return month_start(month - timedelta(days=1))


def period_start(day: date, period: str) -> date:
    if period == "day":
        return day
    if period == "week":
        return week_start(day)
    return month_start(day)


def period_after(start: date, period: str) -> date:
    """The first day of the period after the one starting on ``start``."""
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    return next_month(start)


__all__ = [
    "RELEASE_DELAY",
    "days_of",
    "last_released_month",
    "month_end",
    "month_start",
    "months_between",
    "next_month",
    "period_after",
    "period_start",
    "utc_bounds",
    "week_parts",
    "week_start",
]
