"""What statistics can be published: the tables of a month's release.

Every table anyone can obtain — any grouping the API, the CLI or the dashboard allows, by
day, by week or by month, and the public page — is one of these tables or a sum of them
over whole periods. A month's release decides all of them at once, for every population
(all units, each unit), so what is withheld in one is withheld consistently in all.

Fewer tables make each safer and fewer cells withheld: finer ones (by day, by week) have
one grouping key at most; status and outcome, which keep changing after a month ends,
are published by month only, as they stood when the month's release was made.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEME = 1  # bump when the tables or the rule change: releases say what they were made with

# Grouping keys, in the order columns are written. Province is the zone's province.
KEYS = ("zone", "province", "category", "status", "disposition", "priority", "channel")
STABLE = ("zone", "province", "category", "priority", "channel")  # what the tipster sent
LEVELS = ("month", "week", "day")
PERIODS = ("day", "week", "month")
# Median and 90th-percentile hours to triage and to close: by month, for these keys only.
TIMED_KEYS = ("zone", "province", "category")
ALL = "*"  # the population of every unit; also a key summed over, in totals


@dataclass(frozen=True, order=True)
class Table:
    keys: tuple[str, ...]  # in KEYS order
    level: str

    @property
    def name(self) -> str:
        return ",".join(self.keys)

    @property
    def timed(self) -> bool:
        return self.level == "month" and all(key in TIMED_KEYS for key in self.keys)


def canonical(keys: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(sorted(keys, key=KEYS.index))


# The groupings a month's release publishes. Each further table is more that someone
# could combine with the rest, so more cells would have to be withheld in all of them:
# these are the ones the dashboard, its downloads and the public page use, and their
# parts (every grouping's own totals are in the list too).
MONTH_GROUPINGS: tuple[tuple[str, ...], ...] = (
    (),
    ("zone",),
    ("province",),
    ("category",),
    ("status",),
    ("disposition",),
    ("priority",),
    ("channel",),
    ("zone", "category"),
    ("province", "category"),
    ("category", "disposition"),
    ("province", "disposition"),
    ("status", "disposition"),
)
# Inside a month's release, by week: the totals, by category and by province; by day:
# the totals and by province (a month has thirty days, and a day's tips of one category
# are nearly always too few to show: each such table would only cost the others cells).
FINE_GROUPINGS: dict[str, tuple[tuple[str, ...], ...]] = {
    "week": ((), ("category",), ("province",)),
    "day": ((), ("province",)),
}


def tables() -> list[Table]:
    """Every table of a month's release (for each population)."""
    found = [Table(canonical(keys), "month") for keys in MONTH_GROUPINGS]
    for level, chosen in FINE_GROUPINGS.items():
        found += [Table(canonical(keys), level) for keys in chosen]
    return found


def groupings(period: str) -> list[tuple[str, ...]]:
    """The groupings (period excluded) that may be asked for with ``period``."""
    chosen = MONTH_GROUPINGS if period == "month" else FINE_GROUPINGS[period]
    return [canonical(keys) for keys in chosen]


def refusal(keys: tuple[str, ...], period: str) -> str | None:
    """Why ``keys`` (period excluded) cannot be published with ``period``, or None."""
    if canonical(keys) in groupings(period):
        return None
    listed = "; ".join(" × ".join(g) for g in groupings(period) if g)
    if period != "month" and canonical(keys) in groupings("month"):
        return (
            f"by: {' × '.join(keys)} is published by month only (use period=month); "
            f"by {period}: {listed}, or the totals alone."
        )
    return f"by: {' × '.join(keys)} is not published; by {period}: {listed}, or the totals alone."


__all__ = [
    "ALL",
    "KEYS",
    "LEVELS",
    "FINE_GROUPINGS",
    "MONTH_GROUPINGS",
    "PERIODS",
    "SCHEME",
    "STABLE",
    "TIMED_KEYS",
    "Table",
    "canonical",
    "groupings",
    "refusal",
    "tables",
]
