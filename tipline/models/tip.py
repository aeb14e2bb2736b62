from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Computed,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import false

from tipline.models.base import Base, UTCDateTime
from tipline.models.unit import Unit

# received: committed at intake, not yet placed in a queue; new: in its unit queue(s).
PRIORITY_RANK_SQL = (
    "CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 "
    "WHEN 'low' THEN 3 ELSE 4 END"
)
STATUSES = ("received", "new", "in_review", "actioned", "referred", "closed")
CHANNELS = ("web", "sms")


class Tip(Base):
    """A tip's routing metadata (clear) and its public key. Content is in SealedItem."""

    __tablename__ = "tips"
    __table_args__ = (
        Index("ix_tips_status_priority", "status", "priority"),
        Index("ix_tips_received_at_id", "received_at", "id"),  # the queue's keyset order
        Index("ix_tips_priority_rank_received_at_id", "priority_rank", "received_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Random, not sequential: a reference must not reveal how many tips came before.
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    channel: Mapped[str] = mapped_column(String(8))
    zone: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16))
    # The priority as a number (0 = urgent), kept by the database: the queue's "priority"
    # sort pages through an index on it instead of sorting the whole unit every time.
    priority_rank: Mapped[int] = mapped_column(
        SmallInteger, Computed(PRIORITY_RANK_SQL, persisted=True)
    )
    urgent_words: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="received")
    disposition: Mapped[str | None] = mapped_column(String(32))
    # Truncated to the configured granularity; the exact time is sealed in the body.
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    routed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int] = mapped_column(Integer, default=1)
    # Derived from the web tipster's passphrase with a secret pepper (tipline/crypto/
    # tipster.py): finds the tip's "tipster" key grant at follow-up sign-in. Useless
    # without the pepper, which is never in the database.
    tipster_lookup: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The tipster wrote since staff last opened the tip (the queue shows it).
    reply_waiting: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Workflow (tipline/triage/workflow.py). Times truncated like received_at.
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    triaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first left "new"
    sla_breached: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    units: Mapped[list[TipUnit]] = relationship(
        back_populates="tip", cascade="all, delete-orphan", passive_deletes=True
    )
    grants: Mapped[list[TipKeyGrant]] = relationship(
        back_populates="tip", cascade="all, delete-orphan", passive_deletes=True
    )
    items: Mapped[list[SealedItem]] = relationship(
        back_populates="tip", cascade="all, delete-orphan", passive_deletes=True
    )


class TipTag(Base):
    """A label staff put on a tip (a short slug: tags are clear, so never free text)."""

    __tablename__ = "tip_tags"
    __table_args__ = (UniqueConstraint("tip_id", "tag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(String(32), index=True)


class TipLink(Base):
    """Two tips about the same thing: "related", or "duplicate" (tip_id duplicates the
    other). Stored once per pair, from the tip it was made on."""

    __tablename__ = "tip_links"
    __table_args__ = (UniqueConstraint("tip_id", "linked_tip_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    linked_tip_id: Mapped[int] = mapped_column(
        ForeignKey("tips.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))


class TipUnit(Base):
    """A unit a tip is routed to: the primary unit or an info-only copy."""

    __tablename__ = "tip_units"
    __table_args__ = (UniqueConstraint("tip_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[str] = mapped_column(String(12))  # "primary" | "info"

    tip: Mapped[Tip] = relationship(back_populates="units")
    unit: Mapped[Unit] = relationship()


class TipKeyGrant(Base):
    """The tip private key sealed to one holder: a unit key version, the recovery key, or
    the web tipster's passphrase-derived key."""

    __tablename__ = "tip_key_grants"
    __table_args__ = (UniqueConstraint("tip_id", "holder", "holder_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    holder: Mapped[str] = mapped_column(String(80))  # "unit:<slug>", "recovery" or "tipster"
    holder_version: Mapped[int] = mapped_column(Integer, default=1)
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary)

    tip: Mapped[Tip] = relationship(back_populates="grants")


class SealedItem(Base):
    """A piece of tip content sealed to the tip key: body, attachment, message, note."""

    __tablename__ = "sealed_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    # A random id bound into the seal context so items cannot be swapped between rows.
    item_key: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    blob_path: Mapped[str | None] = mapped_column(String(200))  # sealed file in the data dir

    tip: Mapped[Tip] = relationship(back_populates="items")
