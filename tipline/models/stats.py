"""Statistics: the exact rollup the releases are cut from, and the release ledger.

Both hold counts only — never a tip id, a reference or free text. The rollup is kept in
the same transaction as every change to what it counts (tipline/stats/rollup.py) and can
be rebuilt from the tips (``tipline stats repair``). The ledger holds every number that
can be published, as it was published: a month's release is made once, after the month
has ended, and every answer about that month is cut from it (tipline/stats/ledger.py).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tipline.models.base import Base, UTCDateTime

ROLLUP_KEY = (
    "received_at",
    "zone",
    "category",
    "channel",
    "priority",
    "status",
    "disposition",
)


class StatsRollup(Base):
    """How many routed tips share every key statistics can publish.

    ``received_at`` is the tip's clear (truncated) receipt time cut to the hour; ""
    stands for no zone and no disposition. A row of 1 is no more than the tip row beside
    it says, and it goes with the tip (retention takes it out in the same transaction).
    """

    __tablename__ = "stats_rollup"
    __table_args__ = (UniqueConstraint(*ROLLUP_KEY, name="uq_stats_rollup_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    zone: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(8))
    priority: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    disposition: Mapped[str] = mapped_column(String(32))
    tips: Mapped[int] = mapped_column(Integer)


class StatsRelease(Base):
    """One month's release: made once, after the month ended, for every population at
    once; final. ``k`` and ``rounding`` are those it was made with."""

    __tablename__ = "stats_releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(Date, unique=True)  # its first day, service time
    made_at: Mapped[datetime] = mapped_column(UTCDateTime)  # truncated like every clear time
    k: Mapped[int] = mapped_column(Integer)
    rounding: Mapped[bool] = mapped_column(Boolean)
    scheme: Mapped[int] = mapped_column(Integer)  # tipline.stats.catalogue.SCHEME
    published: Mapped[int] = mapped_column(Integer)  # numbers in it
    withheld: Mapped[int] = mapped_column(Integer)  # of which withheld
    by_audit: Mapped[int] = mapped_column(Integer)  # of those, withheld by the audit


class StatsReleaseTable(Base):
    """One table of a release, for one population ("*": the tips of every unit, the only
    one published today): its cells as JSON ``[[period, key…, count or null, times…]…]``;
    zeros not listed."""

    __tablename__ = "stats_release_tables"
    __table_args__ = (UniqueConstraint("release_id", "population", "grouping", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(
        ForeignKey("stats_releases.id", ondelete="CASCADE"), index=True
    )
    population: Mapped[str] = mapped_column(String(80))
    grouping: Mapped[str] = mapped_column(String(80))  # canonical keys, comma-separated
    level: Mapped[str] = mapped_column(String(8))  # month | week | day
    cells: Mapped[str] = mapped_column(Text)
