from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tipline.models.base import Base, UTCDateTime, utcnow


class OutboxEntry(Base):
    """Work promised in the same transaction as the tip, so Redis being down loses nothing.

    The sweeper enqueues every entry that is not done; the job marks it done in the same
    transaction as its effect.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "done_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
