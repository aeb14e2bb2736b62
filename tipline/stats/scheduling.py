"""Making the months' releases when they are due, for the scheduler and the CLI."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tipline.db import transaction
from tipline.runtime import Runtime
from tipline.stats import ledger, periods


def ended_months(now: datetime, tz: ZoneInfo, count: int) -> list[date]:
    """The ``count`` latest months whose statistics may be published at ``now``."""
    months = [periods.last_released_month(now, tz)]
    while len(months) < count:
        months.append(periods.month_start(months[-1] - timedelta(days=1)))
    return sorted(months)


def release_ended_months(runtime: Runtime, now: datetime, count: int) -> list[date]:
    """Make the missing releases among the ``count`` latest ended months, each in its own
    transaction; the months made."""
    made = []
    tz = ZoneInfo(runtime.settings.timezone)
    for month in ended_months(now, tz, count):
        with transaction(runtime.sessions) as session:
            if ledger.made(session, [month]):
                continue
            ledger.ensure(session, runtime.config, runtime.settings, [month])
            made.append(month)
    return made
