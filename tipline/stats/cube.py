"""A month's cube and every cell of its release, as arrays.

The cube is the rollup of one month, by zone, category, channel, priority,
status, disposition and day. Every table of the catalogue, for every population, is a
margin of it: a cell is a set of cube rows, and its count their sum. ``Cells`` keeps, for
each cell, which cube rows it adds up (the incidence), so the disclosure audit can ask
what else the rows could hold without changing any published number.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline.errors import ServiceUnavailable
from tipline.i18n import _l
from tipline.models import StatsRollup
from tipline.stats import periods
from tipline.stats.catalogue import ALL, Table, tables
from tipline.triage.config import TiplineConfig

NO_ZONE = "needs-zone"  # the zone (and province) of tips whose place is in no zone
NONE = "none"  # the disposition of a tip that is not closed
DIMS = ("zone", "category", "channel", "priority", "status", "disposition", "day")


@dataclass
class Cube:
    month: date
    days: list[date]
    labels: dict[str, list[str]]  # dimension -> its values; codes index into these
    codes: dict[str, np.ndarray]  # dimension -> one code per row
    counts: np.ndarray  # tips per row
    province_of: dict[str, str]

    @property
    def size(self) -> int:
        return len(self.counts)


def load(session: Session, config: TiplineConfig, month: date, tz: ZoneInfo) -> Cube:
    """The month's rows of the rollup, by local day."""
    start, end = periods.utc_bounds(month, periods.next_month(month), tz)
    rows = session.execute(
        select(
            StatsRollup.received_at,
            StatsRollup.zone,
            StatsRollup.category,
            StatsRollup.channel,
            StatsRollup.priority,
            StatsRollup.status,
            StatsRollup.disposition,
            StatsRollup.tips,
        ).where(StatsRollup.received_at >= start, StatsRollup.received_at < end)
    ).all()
    if any(row.tips < 0 for row in rows):
        # A count below zero means the rollup has drifted from the tips; a release is
        # kept for good, so none is made from it.
        raise ServiceUnavailable(
            _l(
                "The counts behind these statistics need checking before anything is "
                "published: an administrator should run “tipline stats repair”."
            )
        )
    merged: dict[tuple[object, ...], int] = defaultdict(int)
    for received, zone, category, channel, priority, status, disposition, n in rows:
        day = received.astimezone(tz).date()
        key = (zone or NO_ZONE, category, channel, priority, status, disposition or NONE)
        merged[(*key, (day - month).days)] += n
    return build(config, month, merged)


def build(config: TiplineConfig, month: date, merged: dict[tuple[object, ...], int]) -> Cube:
    """A cube from its rows: (zone, category, channel, priority, status, disposition,
    day of the month from 0) -> tips."""
    labels: dict[str, list[str]] = {}
    codes: dict[str, np.ndarray] = {}
    keys = [key for key, n in merged.items() if n]
    for i, dim in enumerate(DIMS):
        if dim == "day":
            codes[dim] = np.array([k[i] for k in keys], dtype=np.int64)
            continue
        values = sorted({str(k[i]) for k in keys})
        index = {v: j for j, v in enumerate(values)}
        labels[dim] = values
        codes[dim] = np.array([index[str(k[i])] for k in keys], dtype=np.int64)
    provinces = {zone.id: zone.province for zone in config.zones.values()}
    return Cube(
        month=month,
        days=periods.days_of(month),
        labels=labels,
        codes=codes,
        counts=np.array([merged[k] for k in keys], dtype=np.int64),
        province_of={z: provinces.get(z, NO_ZONE) for z in labels.get("zone", [])},
    )


@dataclass
class Cells:
    """Every non-zero cell of every table for every population, and its cube rows."""

    population: list[str] = field(default_factory=list)
    table: list[Table] = field(default_factory=list)
    bucket: list[date] = field(default_factory=list)  # the period: month, week part, day
    key: list[tuple[str, ...]] = field(default_factory=list)
    value: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pair_cell: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pair_row: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # (population, table) -> for each cube row of that population, its cell (else -1)
    cell_of_row: dict[tuple[str, Table], np.ndarray] = field(default_factory=dict)
    # For each cube row: has it left "new" (so its tips have a time to first triage),
    # and is it closed (a time to closing)? Whether a cell shows those times is itself
    # published (k such tips or more), so the audit counts it as a published number.
    row_timed: dict[str, np.ndarray] = field(default_factory=dict)
    row_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.key)

    def timed_count(self, cell: int, kind: str) -> int:
        """How many of the cell's tips have a time of ``kind`` ("triage" or "close")."""
        rows = self.pair_row[self.pair_cell == cell]
        return int((self.row_timed[kind][rows] * self.row_counts[rows]).sum())


def _key_codes(cube: Cube, key: str) -> tuple[np.ndarray, list[str]]:
    if key == "province":
        names = sorted(set(cube.province_of.values()))
        index = {p: i for i, p in enumerate(names)}
        lookup = np.array([index[cube.province_of[z]] for z in cube.labels["zone"]], dtype=np.int64)
        return lookup[cube.codes["zone"]], names
    return cube.codes[key], cube.labels[key]


def _buckets(cube: Cube, level: str) -> tuple[np.ndarray, list[date]]:
    if level == "month":
        return np.zeros(cube.size, dtype=np.int64), [cube.month]
    if level == "day":
        return cube.codes["day"], cube.days
    parts = periods.week_parts(cube.month)
    labels = sorted(set(parts))
    index = np.array([labels.index(p) for p in parts], dtype=np.int64)
    return index[cube.codes["day"]], labels


def populations(cube: Cube) -> dict[str, np.ndarray]:
    """Each population's cube rows. One: the tips of every unit. (Tables of one unit's
    tips beside them would let anyone subtract the one from the other.)"""
    return {ALL: np.arange(cube.size)}


def cells_of(cube: Cube) -> Cells:
    """Count every catalogue table for every population."""
    out = Cells()
    cell_parts, row_parts, values = [], [], []
    base = 0
    for population, rows in populations(cube).items():
        if not len(rows):
            continue
        for table in tables():
            bucket_codes, bucket_labels = _buckets(cube, table.level)
            columns = [bucket_codes[rows]]
            sizes = [len(bucket_labels)]
            names: list[list[str]] = []
            for key in table.keys:
                code, labels = _key_codes(cube, key)
                columns.append(code[rows])
                sizes.append(len(labels))
                names.append(labels)
            combined = np.ravel_multi_index(columns, sizes)
            unique, inverse = np.unique(combined, return_inverse=True)
            counts = np.bincount(inverse, weights=cube.counts[rows]).astype(np.int64)
            decoded = np.unravel_index(unique, sizes)
            for i in range(len(unique)):
                out.population.append(population)
                out.table.append(table)
                out.bucket.append(bucket_labels[decoded[0][i]])
                out.key.append(tuple(names[j][decoded[j + 1][i]] for j in range(len(names))))
            full = np.full(cube.size, -1, dtype=np.int64)
            full[rows] = base + inverse
            out.cell_of_row[(population, table)] = full
            cell_parts.append(base + inverse)
            row_parts.append(rows)
            values.append(counts)
            base += len(unique)
    if values:
        out.value = np.concatenate(values)
        out.pair_cell = np.concatenate(cell_parts)
        out.pair_row = np.concatenate(row_parts)
    status = np.array(cube.labels.get("status", []), dtype=object)
    status_of_row: np.ndarray = (
        status[cube.codes["status"]] if cube.size else np.zeros(0, dtype=object)
    )
    # A tip has left "new" exactly when it has been triaged (no status goes back to new),
    # and has a closing time exactly when it is closed (reopening clears it).
    out.row_timed = {
        "triage": np.asarray(status_of_row != "new"),
        "close": np.asarray(status_of_row == "closed"),
    }
    out.row_counts = cube.counts
    return out


__all__ = ["DIMS", "NONE", "NO_ZONE", "Cells", "Cube", "build", "cells_of", "load", "populations"]
