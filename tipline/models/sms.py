from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from tipline.models.base import Base, UTCDateTime


class ReplyHandle(Base):
    """How to text an SMS tipster back: their number sealed under the relay key (outside
    the database). Deleted when the conversation expires or the tipster texts STOP."""

    __tablename__ = "reply_handles"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(
        ForeignKey("tips.id", ondelete="CASCADE"), unique=True, index=True
    )
    sealed_number: Mapped[bytes] = mapped_column(LargeBinary)
    # Truncated like every clear time: when the handle expires, not when they texted.
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime)
