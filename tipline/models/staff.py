from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.models.base import Base, UTCDateTime, utcnow
from tipline.models.unit import Unit

ROLES = ("investigator", "supervisor", "admin")


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    # The staff private key, encrypted under Argon2id(password): a database thief
    # must still guess each password before any unit key opens.
    locked_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    # The TOTP secret, sealed to the staff key, so it opens only after the password.
    sealed_totp_secret: Mapped[bytes] = mapped_column(LargeBinary)
    totp_last_counter: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="staff", cascade="all, delete-orphan"
    )


class Membership(Base):
    """A staff member's access to one version of a unit key (sealed to their staff key)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("staff_id", "unit_id", "key_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    key_version: Mapped[int] = mapped_column(Integer)
    sealed_unit_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    staff: Mapped[Staff] = relationship(back_populates="memberships")
    unit: Mapped[Unit] = relationship()
