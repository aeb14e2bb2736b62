"""What a statistics export asks for, checked once for the CLI, the API and the pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from tipline.errors import InvalidInput

KEYS = ("zone", "province", "category", "period", "status", "disposition", "priority", "channel")
PERIODS = ("day", "week", "month")
FORMATS = ("csv", "json", "geojson")
# The most buckets one export may hold per period: a daily export of ten years would be
# 3,650 columns per zone and category, which no chart or spreadsheet reader wants.
MAX_SPAN = {
    "day": timedelta(days=366),
    "week": timedelta(days=366 * 3),
    "month": timedelta(days=366 * 10),
}
DEFAULT_K = 5


@dataclass(frozen=True)
class StatsRequest:
    by: tuple[str, ...]
    period: str
    start: date  # inclusive, in the service's time zone
    end: date  # exclusive
    format: str = "json"
    k: int = DEFAULT_K
    rounding: bool = False


def parse(
    by: str,
    period: str,
    start: str | None,
    end: str | None,
    fmt: str,
    *,
    today: date,
    k: int = DEFAULT_K,
    rounding: bool = False,
) -> StatsRequest:
    """A checked request, or InvalidInput naming the parameter (API 400, CLI exit 2)."""
    keys = tuple(key.strip() for key in by.split(",") if key.strip())
    if not keys:
        raise InvalidInput(f"by: one or more of {', '.join(KEYS)}.", field="by")
    unknown = [key for key in keys if key not in KEYS]
    if unknown:
        raise InvalidInput(
            f"by: unknown grouping {', '.join(unknown)}; use {', '.join(KEYS)}.", field="by"
        )
    if len(set(keys)) != len(keys):
        raise InvalidInput("by: each grouping once.", field="by")
    if "zone" in keys and "province" in keys:
        raise InvalidInput("by: zone or province, not both.", field="by")
    if len(keys) > 4:
        raise InvalidInput("by: at most four groupings.", field="by")
    if period not in PERIODS:
        raise InvalidInput(f"period: one of {', '.join(PERIODS)}.", field="period")
    if fmt not in FORMATS:
        raise InvalidInput(f"format: one of {', '.join(FORMATS)}.", field="format")
    if fmt == "geojson" and "zone" not in keys and "province" not in keys:
        raise InvalidInput("format geojson needs by=zone (or province).", field="format")
    try:
        first = date.fromisoformat(start) if start else today - timedelta(days=365)
        last = date.fromisoformat(end) if end else today
    except ValueError:
        raise InvalidInput("from/to: dates as YYYY-MM-DD.", field="from") from None
    stop = last + timedelta(days=1)  # "to" is inclusive for people, exclusive here
    if stop <= first:
        raise InvalidInput("from/to: the range is empty or inverted.", field="from")
    if stop - first > MAX_SPAN[period]:
        raise InvalidInput(
            f"from/to: too long a range for period={period} (at most {MAX_SPAN[period].days} days).",
            field="to",
        )
    if not 2 <= k <= 100:
        raise InvalidInput("k: between 2 and 100.", field="k")
    return StatsRequest(keys, period, first, stop, fmt, k, rounding)
