from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tipline.models.base import Base, UTCDateTime


class OutboxEntry(Base):
    """Work promised in the same transaction as the tip, so Redis being down loses nothing.

    The sweeper enqueues every entry still here; the job deletes the entry in the same
    transaction as its effect. Entries are deleted rather than marked done, and their time
    is truncated like the tip's: an exact time next to a tip id would undo the truncation.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_job", "job", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # truncated, see above
    attempts: Mapped[int] = mapped_column(Integer, default=0)
