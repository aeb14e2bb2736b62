"""The adversary of the statistics guarantee, written apart from the code it attacks.

It holds published answers (JSON, as the API, the downloads and the CLI give them) and
knows the rules: every listed cell counts at least one tip, a cell not listed none, and
every number is the sum of the tips it describes. Its unknowns are how many tips of each
kind there were — one unknown per combination of zone, category, channel, priority,
status, disposition and day that no published table rules out — and every published
number is an equation over them (an interval when rounding is on). For each withheld
count it computes the greatest value that agrees with everything it holds, as a linear
programme and then in whole tips (an integer programme). A withheld count of 1 to k−2
whose greatest value is below k−1 is *pinned*: the guarantee is broken.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import highspy
import numpy as np

ALL = "*"
KEYS = ("zone", "province", "category", "channel", "priority", "status", "disposition")


@dataclass(frozen=True)
class Number:
    """One published number: the tips with these key values, received in [start, end)."""

    keys: tuple[tuple[str, str], ...]  # (key, value) pairs, sorted
    start: date
    end: date
    count: int | None  # None: withheld (but listed: at least one tip)
    rounded: bool = False
    parts: int = 1  # how many monthly-release numbers it adds up (each rounded on its own)


@dataclass(frozen=True)
class Timed:
    """A published cell shows its times to triage (or to closing), or does not: k or more
    of its tips past "new" (or closed), or fewer."""

    keys: tuple[tuple[str, str], ...]
    start: date
    end: date
    kind: str  # "triage" | "close"
    shown: bool


TIMED_KEYS = {"zone", "province", "category"}


def _months(start: date, end: date) -> list[date]:
    found, month = [], start.replace(day=1)
    while month < end:
        found.append(month)
        month = _after(month, "month")
    return found


def parts_of(start: date, end: date, grid: str, with_period: bool) -> int:
    """How many monthly-release numbers a published number adds up, by the documented
    rule: a period is one part (a week across two months, two); a window is its whole
    months, and in a month it does not cover whole, its week parts or its days."""
    if with_period:
        return len(_months(start, end)) if grid == "week" else 1
    count = 0
    for month in _months(start, end):
        after = _after(month, "month")
        if start <= month and after <= end:
            count += 1
            continue
        first, stop = max(month, start), min(after, end)
        if grid == "week":
            count += len({max(_period_of(first + timedelta(days=i), "week"), month)
                          for i in range((stop - first).days)})  # fmt: skip
        else:
            count += (stop - first).days
    return count


@dataclass(frozen=True)
class Listing:
    """What one table says exists: over [start, end), for ``keys`` (and the period, if
    the table is by period), the combinations listed; every other one is zero."""

    keys: tuple[str, ...]
    grid: str | None  # the period's grid when the table is by period, else None
    start: date
    end: date
    listed: frozenset[tuple[tuple[str, ...], date]]


def _after(start: date, grid: str) -> date:
    if grid == "day":
        return start + timedelta(days=1)
    if grid == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def _period_of(day: date, grid: str) -> date:
    if grid == "day":
        return day
    if grid == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


@dataclass
class Holding:
    """Everything the adversary has collected."""

    numbers: set[Number] = field(default_factory=set)
    listings: set[Listing] = field(default_factory=set)
    timed: set[Timed] = field(default_factory=set)

    def add_answer(self, data: dict) -> None:  # type: ignore[type-arg]
        method = data["method"]
        start = date.fromisoformat(method["from"])
        end = date.fromisoformat(method["to"]) + timedelta(days=1)
        grid = method["period"]
        rounded = method["rounding"] != "none"
        by = method["grouping"]
        for is_cell, entry in [(True, c) for c in data["cells"]] + [
            (False, t) for t in data["totals"]
        ]:
            keys, first, stop, periodic = [], start, end, False
            for key in by:
                value = entry[key]
                if value == ALL:
                    continue
                if key == "period":
                    first = date.fromisoformat(value)
                    stop = _after(first, grid)
                    periodic = True
                else:
                    keys.append((key, value))
            parts = parts_of(first, stop, grid, periodic)
            self.numbers.add(
                Number(tuple(sorted(keys)), first, stop, entry["count"], rounded, parts)
            )
            # Times are a month's: a published cell of a timed table, for one month,
            # shows them or not — and that says whether k of its tips have them.
            one_month = grid == "month" and len(_months(first, stop)) == 1 and parts == 1
            if (
                is_cell
                and one_month
                and entry["count"] is not None
                and {k for k, _ in keys} <= TIMED_KEYS
                and "triage_median_h" in entry  # answers that give times at all
            ):
                for kind in ("triage", "close"):
                    shown = entry.get(f"{kind}_median_h") is not None
                    self.timed.add(Timed(tuple(sorted(keys)), first, stop, kind, shown))
        keys_only = tuple(k for k in by if k != "period")
        with_period = "period" in by
        listed = frozenset(
            (
                tuple(entry[k] for k in keys_only),
                date.fromisoformat(entry["period"]) if with_period else start,
            )
            for entry in data["cells"]
        )
        self.listings.add(Listing(keys_only, grid if with_period else None, start, end, listed))


@dataclass(frozen=True)
class Kind:
    zone: str
    category: str
    channel: str
    priority: str
    status: str
    disposition: str
    day: date


def _value(kind: Kind, key: str, province_of: dict[str, str]) -> str:
    if key == "province":
        return province_of.get(kind.zone, "needs-zone")
    return str(getattr(kind, key))


def _allows(listing: Listing, kind: Kind, province_of: dict[str, str]) -> bool:
    if not (listing.start <= kind.day < listing.end):
        return True
    period = _period_of(kind.day, listing.grid) if listing.grid else listing.start
    return (tuple(_value(kind, k, province_of) for k in listing.keys), period) in listing.listed


def kinds(
    holding: Holding, domain: dict[str, list[str]], days: list[date], province_of: dict[str, str]
) -> list[Kind]:
    """Every kind of tip that no published table rules out."""
    one_key = [lst for lst in holding.listings if len(lst.keys) <= 1]
    found = []
    for day in days:
        # Values each one-key table allows on this day, then their product, then all tables.
        allowed = {}
        for dim in ("zone", "category", "channel", "priority", "status", "disposition"):
            values = []
            for value in domain[dim]:
                probe = Kind(
                    **{
                        d: (value if d == dim else "")
                        for d in Kind.__dataclass_fields__
                        if d != "day"
                    },
                    day=day,
                )
                checks = [
                    lst
                    for lst in one_key
                    if lst.keys in ((dim,), ("province",) if dim == "zone" else (dim,))
                ]
                if all(_allows(lst, probe, province_of) for lst in checks):
                    values.append(value)
            allowed[dim] = values
        empty_ok = all(
            _allows(lst, Kind("", "", "", "", "", "", day), province_of)
            for lst in one_key
            if not lst.keys
        )
        if not empty_ok:
            continue
        for combo in itertools.product(
            allowed["zone"], allowed["category"], allowed["channel"], allowed["priority"],
            allowed["status"], allowed["disposition"],
        ):  # fmt: skip
            if (combo[4] == "closed") != (combo[5] != "none"):
                continue
            kind = Kind(*combo, day=day)
            if all(_allows(lst, kind, province_of) for lst in holding.listings):
                found.append(kind)
    return found


@dataclass
class Verdict:
    pinned: list[tuple[Number, int, float]]  # (number, true value, greatest value found)
    targets: int
    kinds: int


def attack(
    holding: Holding,
    truth: Callable[[Number], int],
    domain: dict[str, list[str]],
    days: list[date],
    province_of: dict[str, str],
    k: int,
) -> Verdict:
    """Try to pin every withheld count of 1..k−2 below k−1 (``truth``: its real value)."""
    space = kinds(holding, domain, days, province_of)
    rows: list[tuple[list[int], float, float]] = []
    members_of: dict[Number, list[int]] = {}
    seen: set[tuple[tuple[int, ...], int | None]] = set()
    for number in sorted(holding.numbers, key=repr):
        members = [
            i
            for i, kind in enumerate(space)
            if number.start <= kind.day < number.end
            and all(_value(kind, key, province_of) == value for key, value in number.keys)
        ]
        members_of[number] = members
        signature = (tuple(members), number.count)
        if signature in seen:
            continue
        seen.add(signature)
        if number.count is None:
            rows.append((members, 1.0, highspy.kHighsInf))  # listed: at least one tip
        elif number.rounded:
            # Each of its parts is within 4 of the truth, and a published part is at
            # least k (smaller counts are never published).
            spread = 4.0 * number.parts
            rows.append((members, max(float(k), number.count - spread), number.count + spread))
        else:
            rows.append((members, float(number.count), float(number.count)))
    for fact in sorted(holding.timed, key=repr):
        members = [
            i
            for i, kind in enumerate(space)
            if fact.start <= kind.day < fact.end
            and all(_value(kind, key, province_of) == value for key, value in fact.keys)
            and (kind.status == "closed" if fact.kind == "close" else kind.status != "new")
        ]
        if fact.shown:
            rows.append((members, float(k), highspy.kHighsInf))
        else:
            rows.append((members, 0.0, float(k - 1)))
    pinned = []
    targets = 0
    checked: dict[tuple[int, ...], float] = {}
    for number in sorted(holding.numbers, key=repr):
        if number.count is not None:
            continue
        value = truth(number)
        if not 1 <= value <= k - 2:
            continue
        targets += 1
        members = tuple(members_of[number])
        if members not in checked:
            best = _greatest(len(space), rows, list(members), integer=False)
            if best >= k - 1 - 1e-6:
                best = min(best, _greatest(len(space), rows, list(members), integer=True))
            checked[members] = best
        if checked[members] < k - 1 - 1e-6:
            pinned.append((number, value, checked[members]))
    return Verdict(pinned, targets, len(space))


def _greatest(
    n: int, rows: list[tuple[list[int], float, float]], target: list[int], *, integer: bool
) -> float:
    if not target:
        return 0.0
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = len(rows)
    cost = np.zeros(n)
    cost[target] = -1.0
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.full(n, 1000.0)
    lp.row_lower_ = np.array([r[1] for r in rows])
    lp.row_upper_ = np.array([r[2] for r in rows])
    columns: list[list[int]] = [[] for _ in range(n)]
    for r, (members, _, _) in enumerate(rows):
        for m in members:
            columns[m].append(r)
    starts = np.cumsum([0] + [len(c) for c in columns])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = starts.astype(np.int32)
    lp.a_matrix_.index_ = np.array([r for c in columns for r in c], dtype=np.int32)
    lp.a_matrix_.value_ = np.ones(int(starts[-1]))
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    solver = highspy.Highs()
    solver.silent()
    solver.setOptionValue("output_flag", False)
    solver.passModel(lp)
    solver.run()
    status = solver.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise AssertionError(f"the adversary's programme is {solver.modelStatusToString(status)}")
    return -float(solver.getInfo().objective_function_value)


def truth_from(
    tips: Iterable[dict], province_of: dict[str, str], local_day: Callable[[dict], date]
) -> Callable[[Number], int]:
    """How many of the test's tips a number describes, counted from the tips themselves."""
    rows = list(tips)

    def value_of(tip: dict, key: str) -> str:  # type: ignore[type-arg]
        if key == "province":
            return province_of.get(tip.get("zone") or "", "needs-zone")
        if key == "zone":
            return tip.get("zone") or "needs-zone"
        if key == "disposition":
            return tip.get("disposition") or "none"
        return str(tip.get(key))

    def truth(number: Number) -> int:
        return sum(
            1
            for tip in rows
            if number.start <= local_day(tip) < number.end
            and all(value_of(tip, key) == value for key, value in number.keys)
        )

    return truth
