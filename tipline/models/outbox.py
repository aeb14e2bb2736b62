from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import false

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
    # None for work about no tip (deleting a keyword text or a sent reply at Twilio).
    tip_id: Mapped[int | None] = mapped_column(
        ForeignKey("tips.id", ondelete="CASCADE"), index=True
    )
    # What the job needs besides the tip (a Twilio SID, media URLs, a reply's text),
    # sealed under the relay key (tipline.outbox): a copy of the database reveals none of it.
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Set, and committed, before a job does something it must not do twice (text a
    # tipster): a later delivery finds it claimed and leaves it to a person.
    claimed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # truncated, see above
    attempts: Mapped[int] = mapped_column(Integer, default=0)
