"""Disclosure control for a month's release: what to withhold so that no one holding
every published number can prove a withheld small count is below k−1.

1. **Primary**: every cell of 1 to k−1 tips is withheld (zeros are not listed: an empty
   cell describes nobody).
2. **Complementary**, by rule of thumb: under any published total, the withheld cells
   must leave room — each listed cell counts at least one tip, so a total that leaves
   its withheld cells little to share would pin a small one down. The smallest other
   cell is withheld with it (or the total itself, if there is none).
3. **The audit**, which is the guarantee. For every withheld cell of 1 to k−2 tips
   (a cell of k−1 cannot be below k−1), find another month of tips — whole tips, moved
   between the cube's rows — that gives every published number of the release (every
   table, every population; within its rounding interval when rounding is on), keeps
   every listed cell listed, and puts k−1 or more tips in that cell. Such a month is
   indistinguishable from the real one to anyone, however they combine the numbers:
   they cannot prove the cell holds fewer than k−1. Where no such month exists, the
   cheapest published numbers standing in the way (an elastic linear programme says
   which) are withheld too, and the cell is tried again.

Only the cube's non-empty rows are moved: an adversary who knew exactly which
combinations occur would know more than one who does not, so the audit grants them that.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
from dataclasses import dataclass

import highspy
import numpy as np

from tipline.stats.catalogue import ALL, Table, tables
from tipline.stats.cube import Cells, Cube

INF = highspy.kHighsInf
ROUNDING_BASE = 5
# What withholding one more number costs (the elastic programme minimises it): finer
# tables and unit populations first, the public's coarse totals last.
LEVEL_COST = {"day": 1.0, "week": 3.0, "month": 10.0}
KEYS_COST = {2: 1.0, 1: 3.0, 0: 10.0}
BATCH = 25  # targets per integer programme: more makes each one slow to solve


@dataclass
class Decision:
    withheld: np.ndarray  # bool per cell
    shown: np.ndarray  # the published value per cell (rounded when rounding is on)
    targets: int  # withheld cells of 1..k−2 the audit proved
    added_by_audit: int  # cells withheld because no alternative month was found


def rounded(secret: bytes, label: str, value: int) -> int:
    """Random rounding to base 5, up with probability (value mod 5) / 5, keyed by the cell
    (HMAC of the secret key): the same cell rounds the same way every time."""
    rest = value % ROUNDING_BASE
    if rest == 0:
        return value
    digest = hmac.new(secret, f"{label}|{value}".encode(), hashlib.sha256).digest()
    draw = int.from_bytes(digest[:8], "big") / 2**64
    return value - rest + (ROUNDING_BASE if draw < rest / ROUNDING_BASE else 0)


def cell_label(cells: Cells, i: int) -> str:
    table = cells.table[i]
    return f"{cells.population[i]}|{table.level}|{table.name}|{cells.bucket[i]}|{cells.key[i]}"


def _relations() -> list[tuple[Table, Table]]:
    """(total, finer table) pairs: one more key, a finer level, zone under province."""
    known = set(tables())
    pairs = []
    for parent in known:
        for child in known:
            if child == parent:
                continue
            if child.level == parent.level and set(parent.keys) < set(child.keys):
                if len(child.keys) == len(parent.keys) + 1:
                    pairs.append((parent, child))
            elif child.keys == parent.keys and (parent.level, child.level) in (
                ("month", "week"),
                ("week", "day"),
            ):
                pairs.append((parent, child))
            elif child.level == parent.level and "province" in parent.keys:
                swapped = tuple("zone" if k == "province" else k for k in parent.keys)
                if set(swapped) == set(child.keys):
                    pairs.append((parent, child))
    return sorted(pairs)


def _groups(cells: Cells) -> list[tuple[int, np.ndarray]]:
    """Every published-total relation: (total cell, the cells it adds up)."""
    found = []
    for parent_table, child_table in _relations():
        for population in {p for p, _ in cells.cell_of_row}:
            parents = cells.cell_of_row.get((population, parent_table))
            children = cells.cell_of_row.get((population, child_table))
            if parents is None or children is None:
                continue
            rows = parents >= 0
            pairs = np.unique(np.stack([parents[rows], children[rows]], axis=1), axis=0)
            if not len(pairs):
                continue
            order = np.argsort(pairs[:, 0], kind="stable")
            pairs = pairs[order]
            splits = np.nonzero(np.diff(pairs[:, 0]))[0] + 1
            for chunk in np.split(pairs, splits):
                found.append((int(chunk[0, 0]), chunk[:, 1].copy()))
    return found


def _complement(
    cells: Cells, groups: list[tuple[int, np.ndarray]], withheld: np.ndarray, k: int
) -> None:
    value = cells.value
    changed = True
    while changed:
        changed = False
        for parent, children in groups:
            if withheld[parent]:
                continue
            mask = withheld[children]
            if not mask.any():
                continue
            hidden = children[mask]
            if not (value[hidden] <= k - 2).any():
                continue  # only cells of 1..k−2 need the room
            share = int(value[hidden].sum()) - (len(hidden) - 1)
            if share >= k - 1:
                continue
            others = children[~mask]
            if len(others):
                withheld[others[np.argmin(value[others])]] = True
            else:
                withheld[parent] = True
            changed = True


_banner_silenced = False


def _solver() -> highspy.Highs:
    """A quiet HiGHS instance. The library prints a banner to the process's stdout the
    first time; a CLI export written to stdout must not start with it."""
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
    solver.setOptionValue("output_flag", False)
    return solver


def _timed_flags(
    cells: Cells, withheld: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """The published "shows its times" facts as extra cells — ids past the real ones:
    len(cells) + 2c for cell c's time to triage, + 1 for its time to closing — with
    their rows (the cell's rows past "new", or closed) and their true counts."""
    ids: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    truth: dict[int, int] = {}
    timed = [i for i in range(len(cells)) if cells.table[i].timed and not withheld[i]]
    if not timed or not cells.row_timed:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), truth
    order = np.argsort(cells.pair_cell, kind="stable")
    sorted_cells = cells.pair_cell[order]
    for cell in timed:
        a, b = np.searchsorted(sorted_cells, [cell, cell + 1])
        members = cells.pair_row[order[a:b]]
        for offset, kind in enumerate(("triage", "close")):
            chosen = members[cells.row_timed[kind][members]]
            flag = len(cells) + 2 * cell + offset
            ids.append(np.full(len(chosen), flag, dtype=np.int64))
            rows.append(chosen)
            truth[flag] = int(cells.row_counts[chosen].sum())
    return np.concatenate(ids), np.concatenate(rows), truth


class _Model:
    """The alternative months: a change δ of each movable cube row (whole tips, each
    row stays ≥ 0) such that every published cell keeps its number and every withheld
    cell stays listed. One row of the programme per cell that a movable row is in."""

    def __init__(
        self,
        cells: Cells,
        cube: Cube,
        withheld: np.ndarray,
        shown: np.ndarray,
        rounding: bool,
        movable: np.ndarray,
        k: int,
    ) -> None:
        self.columns = movable  # cube row ids
        column_of = np.full(cube.size, -1, dtype=np.int64)
        column_of[movable] = np.arange(len(movable))
        # Besides the cells, each published timed cell says whether k or more of its tips
        # have a time to triage, and to closing (it shows them, or does not): two more
        # published facts, each about the cell's rows that are past "new" (or closed).
        extra_cells, extra_rows, extra_truth = _timed_flags(cells, withheld)
        all_cells = np.concatenate([cells.pair_cell, extra_cells])
        all_rows = np.concatenate([cells.pair_row, extra_rows])
        keep = column_of[all_rows] >= 0
        pair_cell = all_cells[keep]
        pair_col = column_of[all_rows[keep]]
        self.rows = np.unique(pair_cell)  # cell ids (and flags), one programme row each
        row_of = np.full(3 * len(cells) + 1, -1, dtype=np.int64)
        row_of[self.rows] = np.arange(len(self.rows))
        order = np.lexsort((row_of[pair_cell], pair_col))
        self.col_index = pair_col[order]
        self.row_index = row_of[pair_cell][order]
        self.starts = np.searchsorted(self.col_index, np.arange(len(movable) + 1))
        real = self.rows < len(cells)
        truth = np.zeros(len(self.rows))
        truth[real] = cells.value[self.rows[real]]
        for position in np.nonzero(~real)[0]:
            truth[position] = extra_truth[int(self.rows[position])]
        low = np.zeros(len(self.rows))
        high = np.zeros(len(self.rows))
        hidden = np.zeros(len(self.rows), dtype=bool)
        hidden[real] = withheld[self.rows[real]]
        low[hidden] = 1 - truth[hidden]  # a listed cell keeps at least one tip
        high[hidden] = INF
        if rounding:
            # A published number r says the truth is within r ± 4 — and at least k, since
            # smaller counts are never published.
            published = real & ~hidden
            spread = ROUNDING_BASE - 1
            values = shown[self.rows[published]]
            low[published] = np.maximum(values - spread, k) - truth[published]
            high[published] = values + spread - truth[published]
        for position in np.nonzero(~real)[0]:
            if truth[position] >= k:  # times shown: k or more such tips
                low[position], high[position] = k - truth[position], INF
            else:  # not shown: fewer than k
                low[position], high[position] = -INF, k - 1 - truth[position]
        self.row_low, self.row_high = low, high
        self.col_low = -cube.counts[movable].astype(float)
        self.col_high = np.full(len(movable), float(2 * k))
        by_cell = np.argsort(pair_cell, kind="stable")
        sorted_cells = pair_cell[by_cell]
        self._cell_ids = sorted_cells
        self._cell_cols = pair_col[by_cell]
        self._solver: highspy.Highs | None = None
        self._costed: np.ndarray | None = None
        self._value = cells.value

    def cols_of(self, cell: int) -> np.ndarray:
        a, b = np.searchsorted(self._cell_ids, [cell, cell + 1])
        return self._cell_cols[a:b]

    def lp(self, *, integer: bool = False, free: np.ndarray | None = None) -> highspy.Highs:
        """The programme; rows outside ``free`` (if given) are held at their count."""
        lp = highspy.HighsLp()
        lp.num_col_ = len(self.columns)
        lp.num_row_ = len(self.rows)
        lp.col_cost_ = np.zeros(len(self.columns))
        lp.col_lower_ = self.col_low if free is None else np.where(free, self.col_low, 0.0)
        lp.col_upper_ = self.col_high if free is None else np.where(free, self.col_high, 0.0)
        lp.row_lower_ = self.row_low
        lp.row_upper_ = self.row_high
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = self.starts.astype(np.int32)
        lp.a_matrix_.index_ = self.row_index.astype(np.int32)
        lp.a_matrix_.value_ = np.ones(len(self.row_index))
        if integer:
            lp.integrality_ = [highspy.HighsVarType.kInteger] * len(self.columns)
        solver = _solver()
        solver.passModel(lp)
        return solver

    def bound(self, target: int, need: int) -> tuple[float, bool]:
        """How many more tips ``target`` could hold, fractional tips allowed (a linear
        programme; ``inf`` if unlimited), and whether an alternative month of whole tips
        giving it ``need`` more was found on the way."""
        cols = self.cols_of(target)
        if not len(cols):
            return 0.0, True
        if self._solver is None:
            self._solver = self.lp()
        solver = self._solver
        if self._costed is not None:
            zero = np.zeros(len(self._costed))
            solver.changeColsCost(len(self._costed), self._costed.astype(np.int32), zero)
        # HiGHS minimises: maximise the target's tips. The last basis is the start.
        solver.changeColsCost(len(cols), cols.astype(np.int32), np.full(len(cols), -1.0))
        self._costed = cols
        solver.run()
        status = solver.getModelStatus()
        if status == highspy.HighsModelStatus.kUnbounded:
            return INF, False
        if status != highspy.HighsModelStatus.kOptimal:
            return 0.0, True
        values = np.asarray(solver.getSolution().col_value)
        more = -solver.getInfo().objective_function_value
        if np.allclose(values, np.round(values), rtol=0, atol=1e-7):
            # A vertex of whole tips: checked as whole tips, not trusted to tolerance.
            return more, self._witness(np.round(values), cols, need)
        if more >= need - 1e-7 and self._small_whole(cols, need):
            return more, True
        return more, False

    def _small_whole(self, cols: np.ndarray, need: float) -> bool:
        """Whole tips, cheaply: the least change that gives the target ``need`` more
        (a linear programme minimising the tips moved) is often whole already, or
        halves or thirds of moves whole tips could make — and exactly published numbers
        stay what they are under any multiple of a change that keeps them."""
        delta = self.least_change(cols, need)
        if delta is None:
            return False
        for times in range(1, 7):
            scaled = delta * times
            if np.allclose(scaled, np.round(scaled), rtol=0, atol=1e-6) and self._witness(
                np.round(scaled), cols, need
            ):
                return True
        return False

    def _witness(self, delta: np.ndarray, cols: np.ndarray, need: float) -> bool:
        """Whether the whole-tip change ``delta`` is another month that publishes the
        same and gives the target at least ``need`` more."""
        return bool(delta[cols].sum() >= need) and self.feasible(delta)

    def least_change(self, cols: np.ndarray, need: float) -> np.ndarray | None:
        n = len(self.columns)
        lp = highspy.HighsLp()
        lp.num_col_ = 2 * n  # δ = up − down
        lp.num_row_ = len(self.rows) + 1
        lp.col_cost_ = np.ones(2 * n)
        lp.col_lower_ = np.zeros(2 * n)
        lp.col_upper_ = np.concatenate([self.col_high, -self.col_low])
        lp.row_lower_ = np.concatenate([self.row_low, [float(need)]])
        lp.row_upper_ = np.concatenate([self.row_high, [INF]])
        in_target = np.zeros(n, dtype=bool)
        in_target[cols] = True
        counts = np.diff(self.starts) + in_target
        starts = np.concatenate([[0], np.cumsum(counts)])
        index = np.empty(int(starts[-1]), dtype=np.int64)
        for col in range(n):
            a, b = self.starts[col], self.starts[col + 1]
            index[starts[col] : starts[col] + (b - a)] = self.row_index[a:b]
            if in_target[col]:
                index[starts[col + 1] - 1] = len(self.rows)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.concatenate([starts, starts[-1] + starts[1:]]).astype(np.int32)
        lp.a_matrix_.index_ = np.concatenate([index, index]).astype(np.int32)
        lp.a_matrix_.value_ = np.concatenate([np.ones(len(index)), -np.ones(len(index))])
        solver = _solver()
        solver.passModel(lp)
        solver.run()
        if solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        values = np.asarray(solver.getSolution().col_value)
        return values[:n] - values[n:]

    def whole_tips(self, wanted: dict[int, int], seconds: float) -> set[int]:
        """Of the targets in ``wanted`` (cell -> more tips needed), those that one
        alternative month of whole tips raises enough, all at once: an integer programme
        maximising how many targets get all they need (y_t = 1 only if target t gains
        its need). Its best answer within ``seconds`` is used; any answer it gives is a
        valid alternative month, and it is checked here before it is believed."""
        targets = list(wanted)
        n = len(self.columns)
        lp = highspy.HighsLp()
        lp.num_col_ = n + len(targets)
        lp.num_row_ = len(self.rows) + len(targets)
        lp.col_cost_ = np.concatenate([np.zeros(n), -np.ones(len(targets))])
        lp.col_lower_ = np.concatenate([self.col_low, np.zeros(len(targets))])
        lp.col_upper_ = np.concatenate([self.col_high, np.ones(len(targets))])
        # Target t's row: Σδ_t − (need_t + x_t)·y_t ≥ −x_t, i.e. Σδ_t ≥ need_t when y_t = 1,
        # and no limit when y_t = 0 (a cell cannot lose more than the x_t tips it has).
        held = np.array([float(self._value[t]) for t in targets])
        lp.row_lower_ = np.concatenate([self.row_low, -held])
        lp.row_upper_ = np.concatenate([self.row_high, np.full(len(targets), INF)])
        extra: list[list[int]] = [[] for _ in range(n)]
        for i, target in enumerate(targets):
            for col in self.cols_of(target).tolist():
                extra[col].append(len(self.rows) + i)
        index: list[np.ndarray] = []
        values: list[np.ndarray] = []
        starts = [0]
        for col in range(n):
            rows = np.concatenate(
                [self.row_index[self.starts[col] : self.starts[col + 1]], extra[col]]
            )
            index.append(rows)
            values.append(np.ones(len(rows)))
            starts.append(starts[-1] + len(rows))
        for i, target in enumerate(targets):  # y_i: target i gets all it needs, or 0
            index.append(np.array([len(self.rows) + i]))
            values.append(np.array([-(float(wanted[target]) + held[i])]))
            starts.append(starts[-1] + 1)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.concatenate(index).astype(np.int32)
        lp.a_matrix_.value_ = np.concatenate(values)
        lp.integrality_ = [highspy.HighsVarType.kInteger] * (n + len(targets))
        mip = _solver()
        mip.passModel(lp)
        mip.setOptionValue("time_limit", float(seconds))
        mip.setOptionValue("mip_rel_gap", 0.0)
        mip.run()
        if mip.getInfo().primal_solution_status != 2:  # no feasible answer found
            return set()
        delta = np.round(np.asarray(mip.getSolution().col_value)[:n])
        # Check the answer ourselves: whole tips, every published number kept.
        if not self.feasible(delta):
            return set()
        return {t for t in targets if delta[self.cols_of(t)].sum() >= wanted[t]}

    def feasible(self, delta: np.ndarray) -> bool:
        """Does this change of the movable rows give an alternative month: rows not
        below zero, every published number within its bounds, every listed cell listed?"""
        if (delta < self.col_low - 1e-9).any() or (delta > self.col_high + 1e-9).any():
            return False
        sums = np.zeros(len(self.rows))
        np.add.at(sums, self.row_index, np.repeat(delta, np.diff(self.starts)))
        return bool(((sums >= self.row_low - 1e-9) & (sums <= self.row_high + 1e-9)).all())


def _blocking(
    cells: Cells, model: _Model, withheld: np.ndarray, target: int, need: int
) -> list[int]:
    """The published cells to withhold so that ``target`` can hold ``need`` more tips
    in ``model``: each published cell may give way at a cost (an elastic linear
    programme); the cells that gave way."""
    # A flag row (a cell's "shows its times") gives way with its cell: it is about it.
    owner = np.where(model.rows < len(cells), model.rows, (model.rows - len(cells)) // 2).astype(
        np.int64
    )
    published = np.nonzero(~withheld[owner])[0]
    n_cols = len(model.columns)
    weights = np.empty(len(published))
    for j, row in enumerate(published):
        cell = int(owner[row])
        table = cells.table[cell]
        weight = LEVEL_COST[table.level] * KEYS_COST[len(table.keys)]
        weight *= 2.0 if cells.population[cell] == ALL else 1.0
        weights[j] = weight * (1 + float(cells.value[cell]))
    lp = highspy.HighsLp()
    lp.num_col_ = n_cols + 2 * len(published)
    lp.num_row_ = len(model.rows) + 1
    lp.col_cost_ = np.concatenate([np.zeros(n_cols), np.repeat(weights, 2)])
    lp.col_lower_ = np.concatenate([model.col_low, np.zeros(2 * len(published))])
    lp.col_upper_ = np.concatenate([model.col_high, np.full(2 * len(published), INF)])
    lp.row_lower_ = np.concatenate([model.row_low, [float(need)]])
    lp.row_upper_ = np.concatenate([model.row_high, [INF]])
    # Columns: the movable rows (with one more entry, in the target's row, for the target's
    # own), then a pair of slacks (+1, −1) for each published cell.
    in_target = np.zeros(n_cols, dtype=bool)
    in_target[model.cols_of(target)] = True
    counts = np.diff(model.starts) + in_target
    starts = np.concatenate([[0], np.cumsum(counts)])
    index = np.empty(int(starts[-1]), dtype=np.int64)
    for col in range(n_cols):
        a, b = model.starts[col], model.starts[col + 1]
        index[starts[col] : starts[col] + (b - a)] = model.row_index[a:b]
        if in_target[col]:
            index[starts[col + 1] - 1] = len(model.rows)
    slack_index = np.repeat(published, 2)
    slack_value = np.tile([1.0, -1.0], len(published))
    all_starts = np.concatenate([starts, starts[-1] + np.arange(1, 2 * len(published) + 1)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = all_starts.astype(np.int32)
    lp.a_matrix_.index_ = np.concatenate([index, slack_index]).astype(np.int32)
    lp.a_matrix_.value_ = np.concatenate([np.ones(len(index)), slack_value])
    solver = _solver()
    solver.passModel(lp)
    solver.run()
    if solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        # Cannot happen (every published number may give way); be safe regardless.
        return sorted({int(owner[row]) for row in published})
    slack = np.asarray(solver.getSolution().col_value)[n_cols:]
    gave = slack[0::2] + slack[1::2] > 1e-7
    return sorted({int(owner[row]) for row in published[gave]})


def _rows_of(cells: Cells, members: np.ndarray) -> np.ndarray:
    return np.unique(cells.pair_row[members[cells.pair_cell]])


def _beside(cells: Cells, withheld: np.ndarray, target: int) -> np.ndarray:
    """The cube rows of every withheld cell and of the target's neighbours: the cells of
    its table, for its population, in the same period or with a key in common."""
    members = withheld.copy()
    table, bucket, key = cells.table[target], cells.bucket[target], cells.key[target]
    population = cells.population[target]
    for i in np.nonzero(~members)[0]:
        same_table = cells.population[i] == population and cells.table[i] == table
        if same_table and (
            cells.bucket[i] == bucket or any(a == b for a, b in zip(cells.key[i], key, strict=True))
        ):
            members[i] = True
    return _rows_of(cells, members)


def _settle(
    cells: Cells,
    cube: Cube,
    withheld: np.ndarray,
    shown: np.ndarray,
    rounding: bool,
    target: int,
    need: int,
    k: int,
    seconds: float,
) -> list[int]:
    """For a target the release's model could not raise: look again with its
    neighbours' rows free to move as well (the cells of its table in the same period or
    with a key in common). An empty list: an alternative month was found there. Else
    the published cells to withhold, those that stand in its way."""
    wide = _Model(cells, cube, withheld, shown, rounding, _beside(cells, withheld, target), k)
    more, whole = wide.bound(target, need)
    if more >= need - 1e-7 and (whole or wide.whole_tips({target: need}, seconds)):
        return []
    for room in (need, need + 1, need + 2):
        fresh = [c for c in _blocking(cells, wide, withheld, target, room) if not withheld[c]]
        if fresh:
            return fresh
    # Nothing named: withhold every published cell with a row of the target's, which
    # leaves the target's rows free to hold more.
    rows = cells.pair_row[cells.pair_cell == target]
    fresh = [
        int(c) for c in np.unique(cells.pair_cell[np.isin(cells.pair_row, rows)]) if not withheld[c]
    ]
    if not fresh:
        raise RuntimeError("disclosure audit: a withheld count could not be protected")
    return fresh


def decide(
    cells: Cells,
    cube: Cube,
    k: int,
    *,
    rounding: bool = False,
    secret: bytes = b"",
    seconds: float = 5.0,
) -> Decision:
    """What to withhold in the month's release, audited as the module doc says."""
    value = cells.value
    shown = value.copy()
    if rounding:
        shown = np.array(
            [rounded(secret, cell_label(cells, i), int(v)) for i, v in enumerate(value)]
        )
    withheld = (value >= 1) & (value <= k - 1)
    groups = _groups(cells)
    _complement(cells, groups, withheld, k)
    pending = [int(i) for i in np.nonzero(withheld & (value <= k - 2))[0]]
    proved = 0
    added = 0
    while pending:
        # Try the targets in order against the current release. A target proved once
        # stays proved: withholding more only adds room. At the first that cannot be
        # proved, withhold what stands in its way, and start again from it.
        model = _Model(cells, cube, withheld, shown, rounding, _rows_of(cells, withheld), k)
        need = {t: (k - 1) - int(value[t]) for t in pending}
        fractional: dict[int, int] = {}
        fresh: list[int] = []
        later: list[int] = []
        for position, target in enumerate(pending):
            more, whole = model.bound(target, need[target])
            if more >= need[target] - 1e-7:
                if whole:
                    proved += 1
                else:
                    fractional[target] = need[target]
                continue
            fresh = _settle(
                cells, cube, withheld, shown, rounding, target, need[target], k, seconds
            )
            if not fresh:
                proved += 1
                continue
            later = [target, *pending[position + 1 :]]
            break
        while fractional and not fresh:
            batch = dict(list(fractional.items())[:BATCH])
            found = model.whole_tips(batch, seconds)
            proved += len(found)
            fractional = {t: n for t, n in fractional.items() if t not in found}
            if found:
                continue
            # Fractional tips would do, whole ones were not found: settle them one by one.
            for target in list(fractional):
                fresh = _settle(
                    cells, cube, withheld, shown, rounding, target, need[target], k, seconds
                )
                del fractional[target]
                if fresh:
                    later = [target]
                    break
                proved += 1
        if not fresh:
            break
        withheld[fresh] = True
        added += len(fresh)
        _complement(cells, groups, withheld, k)
        pending = [*later, *fractional]
    return Decision(withheld=withheld, shown=shown, targets=proved, added_by_audit=added)


def verify(cells: Cells, cube: Cube, decision: Decision, k: int, *, rounding: bool) -> list[int]:
    """The withheld cells of 1..k−2 for which no alternative month of whole tips was
    found (none, for a decision made by :func:`decide`): a re-check for tests."""
    model = _Model(
        cells,
        cube,
        decision.withheld,
        decision.shown,
        rounding,
        _rows_of(cells, decision.withheld),
        k,
    )
    value = cells.value
    wanted = {
        int(t): (k - 1) - int(value[t]) for t in np.nonzero(decision.withheld & (value <= k - 2))[0]
    }
    left = dict(wanted)
    for target in list(left):
        more, whole = model.bound(target, left[target])
        if whole and more >= left[target] - 1e-7:
            del left[target]
    while left:
        found = model.whole_tips(left, 60.0)
        if not found:
            break
        left = {t: n for t, n in left.items() if t not in found}
    return sorted(left)


__all__ = ["Decision", "cell_label", "decide", "rounded", "verify"]
