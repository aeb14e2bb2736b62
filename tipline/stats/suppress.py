"""Disclosure control: no published number lets anyone work out a small count.

1. **Primary suppression**: a cell counting 1 to k−1 tips is withheld (zeros are shown:
   an empty cell describes nobody).
2. **Complementary suppression**: totals are published over every subset of the
   grouping keys (by zone, by category, by zone × period, …, and the grand total). For
   each such total, if exactly one of the cells it adds up is withheld, it could be
   recovered by subtraction; so the smallest other non-zero cell under that total is
   withheld too (or, if there is none, the total itself). The same when the withheld
   cells under a total leave less than k−1 to share above 1 each: listed cells count at
   least one tip, so a small remainder would pin them down. Repeated until nothing
   changes, so no withheld cell is ever alone under any published total. (This is the
   rule statistics offices apply by hand; it does not catch every combination of
   totals.) Then an **audit** as an adversary would do it: with every published total
   at once, and knowing each listed cell counts at least one tip, the least and greatest
   value of each withheld small cell is found by linear programming (HiGHS); any cell
   pinned to one value gets the narrowest published total above it withheld, and the
   whole is audited again.
3. **Totals** under k are withheld like cells.
4. Optional **random rounding to base 5** of every published number, as national
   statistics offices do. The draw is keyed (HMAC of the secret key and the cell), so
   exporting the same data twice gives the same numbers: averaging many exports does
   not undo it.

Time statistics (median, 90th percentile) are withheld for any cell under k tips.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import sys
from dataclasses import dataclass, field

import highspy

from tipline.stats.aggregate import TIME_STATS, Cell

ALL = "*"  # a key position summed over, in a total's key


@dataclass
class Published:
    key: tuple[str, ...]
    count: int | None  # None: withheld
    sla_breaches: int | None = None
    rewards: int | None = None
    times: dict[str, float | None] = field(default_factory=dict)

    @property
    def withheld(self) -> bool:
        return self.count is None


@dataclass
class Table:
    keys: tuple[str, ...]
    cells: list[Published]
    totals: list[Published]  # over every proper subset of keys, and the grand total
    method: dict[str, object]


def _subsets(width: int) -> list[tuple[int, ...]]:
    """Positions summed over, for every total: all non-empty subsets (the full set is
    the grand total)."""
    return [s for r in range(1, width + 1) for s in itertools.combinations(range(width), r)]


def _total_key(key: tuple[str, ...], summed: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(ALL if i in summed else part for i, part in enumerate(key))


def suppress(
    cells: list[Cell], keys: tuple[str, ...], k: int
) -> tuple[set[tuple[str, ...]], set[tuple[str, ...]]]:
    """The cell keys and total keys to withhold."""
    counts = {cell.key: cell.count for cell in cells}
    small = {key for key, n in counts.items() if 0 < n < k}
    withheld = set(small)
    totals: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for summed in _subsets(len(keys)):
        for key in counts:
            totals.setdefault(_total_key(key, summed), []).append(key)
    hidden_totals = {t for t, members in totals.items() if 0 < sum(counts[m] for m in members) < k}
    _complement(k, counts, totals, withheld, hidden_totals)
    while pinned := _pinned(counts, totals, withheld, hidden_totals, small):
        # Small cells the published totals still pin down together (not one by one):
        # withhold the narrowest published total above each, and audit again.
        for cell in pinned:
            above = [t for t, m in totals.items() if cell in m and t not in hidden_totals]
            if above:
                hidden_totals.add(min(above, key=lambda t: (t.count(ALL), t)))
    return withheld, hidden_totals


def _complement(
    k: int,
    counts: dict[tuple[str, ...], int],
    totals: dict[tuple[str, ...], list[tuple[str, ...]]],
    withheld: set[tuple[str, ...]],
    hidden_totals: set[tuple[str, ...]],
) -> None:
    """Complementary suppression, one published total at a time (see the module doc)."""
    changed = True
    while changed:
        changed = False
        for total, members in totals.items():
            if total in hidden_totals:
                continue
            hidden = [m for m in members if m in withheld]
            # Recoverable or nearly: one withheld cell alone under the total, or several
            # whose sum leaves little room above 1 each (every listed cell counts at least
            # one tip, so a small remainder pins them down).
            slack = sum(counts[m] for m in hidden) - len(hidden)
            if not hidden or (len(hidden) > 1 and slack >= k - 1):
                continue
            others = sorted(
                (m for m in members if m not in withheld and counts[m] > 0),
                key=lambda m: (counts[m], m),
            )
            if others:
                withheld.add(others[0])
            else:
                hidden_totals.add(total)
            changed = True


_banner_silenced = False


def _solver() -> highspy.Highs:
    """A HiGHS instance. The library prints a banner to the process's stdout the first
    time; a CLI export written to stdout must not start with it."""
    global _banner_silenced
    if not _banner_silenced:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "wb") as devnull:
                os.dup2(devnull.fileno(), 1)
                highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _banner_silenced = True
    solver = highspy.Highs()
    solver.silent()
    return solver


def _pinned(
    counts: dict[tuple[str, ...], int],
    totals: dict[tuple[str, ...], list[tuple[str, ...]]],
    withheld: set[tuple[str, ...]],
    hidden_totals: set[tuple[str, ...]],
    small: set[tuple[str, ...]],
) -> list[tuple[str, ...]]:
    """The audit: the small withheld cells whose value an adversary can pin down from
    every published total at once, knowing each listed cell counts at least one tip.
    For each, the least and greatest value it can take (a linear programme over all
    withheld cells); less than one apart means pinned."""
    unknown = sorted(withheld)
    targets = [key for key in unknown if key in small]
    if not targets:
        return []
    solver = _solver()
    variables = solver.addVariables(len(unknown), lb=1.0)
    column = {key: variables[i] for i, key in enumerate(unknown)}
    for total, members in totals.items():
        if total in hidden_totals:
            continue
        hidden = [m for m in members if m in withheld]
        if not hidden:
            continue
        rest = sum(counts[m] for m in members) - sum(
            counts[m] for m in members if m not in withheld
        )
        solver.addConstr(sum(column[m] for m in hidden) == rest)
    pinned = []
    for key in targets:
        solver.minimize(column[key])
        low = solver.val(column[key])
        solver.maximize(column[key])
        if solver.getModelStatus() == highspy.HighsModelStatus.kUnbounded:
            continue
        if solver.val(column[key]) - low < 1 - 1e-6:
            pinned.append(key)
    return pinned


def _rounded(secret: bytes, key: tuple[str, ...], value: int) -> int:
    """Random rounding to base 5: up with probability (value mod 5) / 5, keyed."""
    rest = value % 5
    if rest == 0:
        return value
    digest = hmac.new(secret, repr((key, value)).encode(), hashlib.sha256).digest()
    draw = int.from_bytes(digest[:8], "big") / 2**64
    return value - rest + (5 if draw < rest / 5 else 0)


def publish(
    cells: list[Cell],
    keys: tuple[str, ...],
    k: int,
    *,
    rounding: bool = False,
    secret: bytes = b"",
) -> Table:
    """The table as it may be published: cells and totals, withheld and rounded."""
    withheld, hidden_totals = suppress(cells, keys, k)

    def shown(key: tuple[str, ...], value: int) -> int:
        return _rounded(secret, key, value) if rounding else value

    def part(key: tuple[str, ...], value: int) -> int | None:
        # A part of a cell (SLA breaches, rewards) under k is withheld like a cell.
        return None if 0 < value < k else shown(key, value)

    published = []
    for cell in sorted(cells, key=lambda c: c.key):
        if cell.key in withheld:
            published.append(Published(cell.key, None, times=dict.fromkeys(TIME_STATS)))
            continue
        small = cell.count < k
        published.append(
            Published(
                cell.key,
                shown(cell.key, cell.count),
                # Parts of a cell are small numbers about few tips: shown only when the
                # cell itself is large, and then rounded like it.
                None if small else part(cell.key + ("sla",), cell.sla_breaches),
                None if small else part(cell.key + ("rewards",), cell.rewards),
                {name: (None if small else cell.times.get(name)) for name in TIME_STATS},
            )
        )
    sums: dict[tuple[str, ...], int] = {}
    for summed in _subsets(len(keys)):
        for cell in cells:
            total = _total_key(cell.key, summed)
            sums[total] = sums.get(total, 0) + cell.count
    totals = [
        Published(key, None if key in hidden_totals else shown(key, value))
        for key, value in sorted(sums.items())
    ]
    method = {
        "suppression": f"cells of 1 to {k - 1} tips withheld; complementary suppression so that "
        "no withheld cell can be recovered from any published total; totals under "
        f"{k} withheld; time statistics only for cells of {k} or more",
        "k": k,
        "rounding": "random rounding to base 5 (keyed, repeatable)" if rounding else "none",
        "zeros": "combinations without tips are not listed",
    }
    return Table(keys, published, totals, method)
