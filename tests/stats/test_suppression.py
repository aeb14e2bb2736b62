"""Disclosure control, attacked: an adversary who knows every published number and the
rules (a listed cell counts at least one tip) tries to pin down each withheld small
count. For random small tables the attack is exhaustive: every assignment of the
withheld cells consistent with every published total is enumerated."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from tipline.stats.aggregate import Cell
from tipline.stats.suppress import ALL, publish

K = 5


def _table(rows: list[list[int]]) -> list[Cell]:
    return [
        Cell((f"r{i}", f"c{j}"), n)
        for i, row in enumerate(rows)
        for j, n in enumerate(row)
        if n > 0
    ]


def _consistent_values(cells: list[Cell], table) -> dict[tuple[str, ...], set[int]]:  # type: ignore[no-untyped-def]
    """For each withheld cell, every value it can take in some assignment that agrees
    with all published totals (each withheld cell ≥ 1). A cell under no published total
    can take any value: it gets two, as a stand-in for "not pinned"."""
    withheld = [c.key for c in table.cells if c.withheld]
    visible = {c.key: c.count for c in table.cells if not c.withheld}
    constraints = []
    for total in table.totals:
        if total.withheld:
            continue
        members = [
            c.key
            for c in cells
            if all(t in (ALL, part) for t, part in zip(total.key, c.key, strict=True))
        ]
        rest = total.count - sum(visible.get(m, 0) for m in members)
        constraints.append(([m for m in members if m in withheld], rest))
    bounds = {
        key: min((rest for members, rest in constraints if key in members), default=None)
        for key in withheld
    }
    found: dict[tuple[str, ...], set[int]] = {key: set() for key in withheld}
    free = [key for key, bound in bounds.items() if bound is None]
    for key in free:
        found[key] = {-1, -2}  # any value: not pinned (no truth to compare)
    tied = [key for key in withheld if key not in free]
    ranges = [range(1, bounds[key] + 1) for key in tied]  # type: ignore[operator]
    for values in itertools.product(*ranges):
        assignment = dict(zip(tied, values, strict=True))
        if all(
            sum(assignment[m] for m in members) == rest for members, rest in constraints if members
        ):
            for key, value in assignment.items():
                found[key].add(value)
    return found


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(min_value=0, max_value=9), min_size=2, max_size=3),
        min_size=2,
        max_size=3,
    ).filter(lambda rows: len({len(r) for r in rows}) == 1)
)
def test_no_small_count_can_be_recovered_from_the_totals(rows: list[list[int]]) -> None:
    cells = _table(rows)
    table = publish(cells, ("row", "col"), K)
    withheld = [c.key for c in table.cells if c.withheld]
    if len(withheld) > 5:
        return  # the exhaustive attack would take too long; smaller tables cover the rule
    true = {c.key: c.count for c in cells}
    possible = _consistent_values(cells, table)
    for key, values in possible.items():
        assert true[key] in values or values == {-1, -2}  # the attack model fits the truth
        if true[key] < K:
            assert len(values) > 1, (rows, key, values)


def test_a_lone_small_cell_gets_a_complement_in_its_row_and_column() -> None:
    cells = _table([[2, 40], [30, 50]])
    table = publish(cells, ("row", "col"), K)
    hidden = {c.key for c in table.cells if c.withheld}
    assert ("r0", "c0") in hidden and len(hidden) >= 3  # its row, its column, and a 4th
    by_key = {t.key: t.count for t in table.totals}
    assert by_key[("r0", ALL)] == 42 and by_key[(ALL, ALL)] == 122  # totals stay published


def test_subtracting_two_totals_never_isolates_one_cell() -> None:
    # zone × category × week: the zone × category total minus the visible weeks.
    cells = [Cell(("z1", "drugs", w), n) for w, n in (("w1", 3), ("w2", 20), ("w3", 25))]
    cells += [Cell(("z2", "drugs", w), n) for w, n in (("w1", 9), ("w2", 11), ("w3", 14))]
    table = publish(cells, ("zone", "category", "period"), K)
    shown = {c.key: c.count for c in table.cells}
    assert shown[("z1", "drugs", "w1")] is None
    for total in table.totals:
        if total.withheld:
            continue
        members = [
            c.key
            for c in cells
            if all(t in (ALL, p) for t, p in zip(total.key, c.key, strict=True))
        ]
        assert sum(1 for m in members if shown[m] is None) != 1, total.key


def test_rounding_is_to_base_5_and_the_same_every_time() -> None:
    cells = _table([[12, 40], [33, 51]])
    first = publish(cells, ("row", "col"), K, rounding=True, secret=b"s" * 32)
    again = publish(cells, ("row", "col"), K, rounding=True, secret=b"s" * 32)
    values = [c.count for c in first.cells] + [t.count for t in first.totals]
    assert all(v is None or v % 5 == 0 for v in values)
    assert values == [c.count for c in again.cells] + [t.count for t in again.totals]
    true = {c.key: c.count for c in cells}
    assert all(abs(c.count - true[c.key]) < 5 for c in first.cells if c.count is not None)


def test_time_statistics_are_withheld_for_small_cells() -> None:
    times = {
        "triage_median_h": 3.0,
        "triage_p90_h": 9.0,
        "close_median_h": 48.0,
        "close_p90_h": 90.0,
    }
    cells = [
        Cell(("a",), 3, times=times),
        Cell(("b",), 8, times=times),
        Cell(("c",), 9, times=times),
    ]
    table = publish(cells, ("zone",), K)
    by_key = {c.key: c for c in table.cells}
    assert by_key[("a",)].withheld and all(v is None for v in by_key[("a",)].times.values())
    assert by_key[("c",)].times == times


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=7), min_size=8, max_size=8))
def test_three_way_tables_resist_the_same_attack(values: list[int]) -> None:
    # zone × category × period, 2 × 2 × 2: totals over every subset of the keys.
    cells = [
        Cell((f"z{i}", f"c{j}", f"w{w}"), n)
        for (i, j, w), n in zip(itertools.product(range(2), repeat=3), values, strict=True)
        if n > 0
    ]
    table = publish(cells, ("zone", "category", "period"), K)
    if sum(1 for c in table.cells if c.withheld) > 5:
        return
    true = {c.key: c.count for c in cells}
    for key, found in _consistent_values(cells, table).items():
        if true[key] < K and found != {-1, -2}:
            assert len(found) > 1, (values, key, found)
