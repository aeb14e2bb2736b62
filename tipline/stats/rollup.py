"""The statistics rollup: exact counts of routed tips by every key statistics publish,
kept in the same transaction as each change to what they count.

Every function that moves a tip between counted states — placement, the SMS menu's
rerouting, a priority raised by a later text, claim/assign/status/referral, retention —
does its work inside :func:`tracking`, which reads the tips' keys before and after and
applies the difference. One mechanism for all of them, so a new kind of change cannot
quietly drift the counts; ``tipline stats repair`` (:func:`repair`) rebuilds the rollup
from the tips and reports any difference, should one ever appear.

A month's release reads the rollup, never the tips: its cost grows with the cells.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tipline.models import Tip
from tipline.models.stats import ROLLUP_KEY, StatsRollup

log = logging.getLogger(__name__)

Key = tuple[datetime, str, str, str, str, str, str]  # in ROLLUP_KEY order


_TRUTH_SQL = """
SELECT date_trunc('hour', received_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS received_at,
       coalesce(zone, '') AS zone, category, channel, priority, status,
       coalesce(disposition, '') AS disposition, count(*) AS tips
FROM tips WHERE status <> 'received'
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""
_KEY_SQL = ", ".join(ROLLUP_KEY)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _keys(session: Session, tip_ids: Iterable[int], *, lock: bool) -> Counter[Key]:
    ids = sorted(set(tip_ids))
    if not ids:
        return Counter()
    query = (
        select(
            Tip.id,
            Tip.received_at,
            Tip.zone,
            Tip.category,
            Tip.channel,
            Tip.priority,
            Tip.status,
            Tip.disposition,
        )
        .where(Tip.id.in_(ids))
        .order_by(Tip.id)
    )
    if lock:
        # Read what we are about to change under its row lock (PostgreSQL), so that two
        # transactions changing one tip apply their differences one after the other.
        query = query.with_for_update(of=Tip)
    keys: Counter[Key] = Counter()
    for row in session.execute(query):
        if row.status == "received":
            continue  # not in a queue yet: not counted
        keys[
            (
                hour_of(row.received_at),
                row.zone or "",
                row.category,
                row.channel,
                row.priority,
                row.status,
                row.disposition or "",
            )
        ] += 1
    return keys


@contextmanager
def tracking(session: Session, tip_ids: Iterable[int]) -> Iterator[None]:
    """Count the tips ``tip_ids`` again after the block has changed them (in the same
    transaction; the caller commits)."""
    ids = list(tip_ids)
    before = _keys(session, ids, lock=True)
    yield
    session.flush()
    after = _keys(session, ids, lock=False)
    delta: Counter[Key] = Counter(after)
    delta.subtract(before)
    apply(session, delta)


P = ParamSpec("P")
R = TypeVar("R")


def counted(
    change: Callable[Concatenate[Session, Tip, P], R],
) -> Callable[Concatenate[Session, Tip, P], R]:
    """A workflow function ``change(session, tip, …)`` with :func:`tracking` around it."""

    @functools.wraps(change)
    def wrapper(session: Session, tip: Tip, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with tracking(session, [tip.id]):
            return change(session, tip, *args, **kwargs)

    return wrapper


def apply(session: Session, delta: Counter[Key]) -> None:
    """Add ``delta`` (positive or negative counts per key) to the rollup."""
    changes = sorted((key, n) for key, n in delta.items() if n)  # one lock order for all
    if not changes:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for key, n in changes:
        values = dict(zip(ROLLUP_KEY, key, strict=True))
        upsert = (
            insert(StatsRollup)
            .values(**values, tips=n)
            .on_conflict_do_update(
                index_elements=list(ROLLUP_KEY), set_={"tips": StatsRollup.tips + n}
            )
            .returning(StatsRollup.id, StatsRollup.tips)
        )
        row_id, tips = session.execute(upsert).one()
        if tips == 0:
            session.execute(delete(StatsRollup).where(StatsRollup.id == row_id))
        elif tips < 0:
            # Only a change made outside tracking() can do this. The row stays, so that
            # no release is made from counts known to be wrong (cube.load refuses) and
            # repair puts it right; the warning says nothing about the tip (the key
            # alone could point at one).
            log.warning("statistics rollup went below zero; run `tipline stats repair`")


def count_from_tips(session: Session) -> Counter[Key]:
    """The rollup as it should be, counted from the tips themselves."""
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(text(_TRUTH_SQL)).all()
        return Counter({tuple(row[:7]): row[7] for row in rows})  # type: ignore[misc]
    columns = (
        Tip.received_at,
        func.coalesce(Tip.zone, ""),
        Tip.category,
        Tip.channel,
        Tip.priority,
        Tip.status,
        func.coalesce(Tip.disposition, ""),
    )
    counted: Counter[Key] = Counter()
    grouped = session.execute(
        select(func.count(), *columns).where(Tip.status != "received").group_by(*columns)
    )
    for n, received, *rest in grouped:
        counted[(hour_of(received), *rest)] += n  # type: ignore[index]
    return counted


def stored(session: Session) -> Counter[Key]:
    rows = session.execute(select(*(getattr(StatsRollup, c) for c in ROLLUP_KEY), StatsRollup.tips))
    return Counter({tuple(row[:7]): row[7] for row in rows})  # type: ignore[misc]


@dataclass(frozen=True)
class Repair:
    keys_checked: int
    keys_wrong: int  # rows whose count differed, was missing or should not exist
    tips_off: int  # the sum of the differences, in absolute value
    tips_counted: int


def repair(session: Session, *, fix: bool = True) -> Repair:
    """Compare the rollup with the tips; with ``fix``, make it what the tips say.

    On PostgreSQL it is all done by the server (a million tips in seconds), the rollup
    locked first, so no change can be counted twice or lost while the tips are read:
    changes made meanwhile wait, then apply their own difference on top."""
    if session.get_bind().dialect.name == "postgresql":
        return _repair_sql(session, fix)
    truth = count_from_tips(session)
    current = stored(session)
    difference: Counter[Key] = Counter(truth)
    difference.subtract(current)
    wrong = {key: n for key, n in difference.items() if n}
    if fix and wrong:
        apply(session, Counter(wrong))
    return Repair(
        keys_checked=len(set(truth) | set(current)),
        keys_wrong=len(wrong),
        tips_off=sum(abs(n) for n in wrong.values()),
        tips_counted=sum(truth.values()),
    )


def _repair_sql(session: Session, fix: bool) -> Repair:
    if fix:
        session.execute(text("LOCK TABLE stats_rollup IN SHARE ROW EXCLUSIVE MODE"))
    compare = f"""
        WITH truth AS ({_TRUTH_SQL})
        SELECT count(*),
               count(*) FILTER (WHERE coalesce(t.tips, 0) <> coalesce(r.tips, 0)),
               coalesce(sum(abs(coalesce(t.tips, 0) - coalesce(r.tips, 0))), 0),
               coalesce(sum(t.tips), 0)
        FROM truth t FULL OUTER JOIN stats_rollup r USING ({_KEY_SQL})
        """  # noqa: S608 - built from constants only
    checked, wrong, off, counted = session.execute(text(compare)).one()
    if fix and wrong:
        session.execute(text("DELETE FROM stats_rollup"))
        session.execute(
            text(f"INSERT INTO stats_rollup ({_KEY_SQL}, tips) SELECT * FROM ({_TRUTH_SQL}) t")  # noqa: S608 - constants only
        )
    return Repair(int(checked), int(wrong), int(off), int(counted))


def total(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(StatsRollup.tips), 0))) or 0)
