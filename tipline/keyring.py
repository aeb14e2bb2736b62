"""Units, staff and their keys in the database: creating, granting, unlocking.

The cryptographic operations are in ``tipline.crypto.hierarchy``; this module only
decides which rows hold which sealed keys.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline import audit
from tipline.crypto import KdfProfile, PrivateKey, PublicKey, WrongPassword
from tipline.crypto import hierarchy as h
from tipline.models import Membership, Staff, Unit, UnitKey
from tipline.models.staff import ROLES


class KeyringError(Exception):
    """A key operation cannot be done as asked; the message says why in plain words."""


def password_hasher(profile: KdfProfile) -> PasswordHasher:
    return PasswordHasher(
        time_cost=profile.time_cost,
        memory_cost=profile.memory_cost,
        parallelism=profile.parallelism,
    )


def ensure_unit(session: Session, slug: str, name: str, recovery: PublicKey) -> Unit:
    """Create a unit with its first keypair (sealed to the recovery key) if it is new."""
    unit = session.scalars(select(Unit).where(Unit.slug == slug)).first()
    if unit is not None:
        if unit.name != name:
            unit.name = name
        return unit
    unit = Unit(slug=slug, name=name, key_version=1)
    material = h.create_unit_key(slug, 1, recovery)
    unit.keys.append(
        UnitKey(
            version=1,
            public_key=material.public_raw,
            sealed_for_recovery=material.sealed_for_recovery,
        )
    )
    session.add(unit)
    session.flush()
    audit.record(session, "cli", "unit.create", slug)
    return unit


@dataclass(frozen=True)
class UnitKeyRow:
    id: int  # the unit's id
    slug: str
    version: int
    public_key: bytes


_UNIT_KEY_CACHE: dict[tuple[str, str], tuple[float, UnitKeyRow]] = {}
UNIT_KEY_CACHE_SECONDS = 30.0


def current_unit_keys(session: Session, slugs: tuple[str, ...]) -> dict[str, UnitKeyRow]:
    """The current public key of each unit, cached briefly per process.

    Intake seals every tip to these keys; reading them once per tip would be the hottest
    query we have. A new key version is picked up within UNIT_KEY_CACHE_SECONDS, so key
    rotation must wait that long before its final re-sealing pass (tips sealed to the
    previous version in that window stay readable by members, who keep old versions).
    """
    bind = session.get_bind().engine.url.render_as_string(hide_password=True)
    now = time.monotonic()
    found: dict[str, UnitKeyRow] = {}
    for slug in slugs:
        cached = _UNIT_KEY_CACHE.get((bind, slug))
        if cached is not None and now - cached[0] < UNIT_KEY_CACHE_SECONDS:
            found[slug] = cached[1]
    wanted = [slug for slug in slugs if slug not in found]
    if wanted:
        for row in session.execute(
            select(Unit.id, Unit.slug, UnitKey.version, UnitKey.public_key)
            .join(UnitKey, (UnitKey.unit_id == Unit.id) & (UnitKey.version == Unit.key_version))
            .where(Unit.slug.in_(wanted))
        ):
            key_row = UnitKeyRow(row.id, row.slug, row.version, row.public_key)
            _UNIT_KEY_CACHE[(bind, row.slug)] = (now, key_row)
            found[row.slug] = key_row
    return found


def current_unit_key(session: Session, unit: Unit) -> UnitKey:
    key = session.scalars(
        select(UnitKey).where(UnitKey.unit_id == unit.id, UnitKey.version == unit.key_version)
    ).one()
    return key


@dataclass(frozen=True)
class NewStaff:
    staff: Staff
    password: str
    totp_secret: str


def generate_password() -> str:
    # ~100 bits, readable aloud; shown once, to be changed at first sign-in.
    return "-".join(secrets.token_urlsafe(6) for _ in range(3))


def add_staff(
    session: Session,
    email: str,
    role: str,
    profile: KdfProfile,
    password: str | None = None,
) -> NewStaff:
    import pyotp

    email = email.strip().lower()
    if role not in ROLES:
        raise KeyringError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    if "@" not in email or len(email) > 254:
        raise KeyringError(f"{email!r} is not an email address")
    if session.scalars(select(Staff).where(Staff.email == email)).first() is not None:
        raise KeyringError(f"a staff account for {email} already exists")
    password = password or generate_password()
    staff = Staff(
        email=email,
        role=role,
        password_hash=password_hasher(profile).hash(password),
        public_key=b"",
        locked_private_key=b"",
        sealed_totp_secret=b"",
    )
    session.add(staff)
    session.flush()  # the id is part of the key's lock label
    material = h.create_staff_key(staff.id, password, profile)
    totp_secret = pyotp.random_base32()
    staff.public_key = material.public_raw
    staff.locked_private_key = material.locked
    staff.sealed_totp_secret = h.seal_staff_secret(
        material.public_raw, staff.id, "totp", totp_secret.encode()
    )
    session.flush()
    audit.record(session, "cli", "staff.create", f"staff:{staff.id}")
    return NewStaff(staff, password, totp_secret)


def grant_unit(
    session: Session,
    staff: Staff,
    unit: Unit,
    *,
    unit_key: PrivateKey,
    actor: str = "cli",
) -> Membership:
    """Seal the unit's current private key to the staff member's public key."""
    key_row = current_unit_key(session, unit)
    if unit_key.public_key.raw != key_row.public_key:
        raise KeyringError(f"the key given for {unit.slug} is not its current key")
    existing = session.scalars(
        select(Membership).where(
            Membership.staff_id == staff.id,
            Membership.unit_id == unit.id,
            Membership.key_version == unit.key_version,
        )
    ).first()
    if existing is not None:
        return existing
    membership = Membership(
        staff_id=staff.id,
        unit_id=unit.id,
        key_version=unit.key_version,
        sealed_unit_key=h.seal_unit_key_for_staff(
            unit_key, unit.slug, unit.key_version, staff.id, staff.public_key
        ),
    )
    session.add(membership)
    session.flush()
    audit.record(session, actor, "membership.grant", f"staff:{staff.id} unit:{unit.slug}")
    return membership


def unit_key_from_recovery(session: Session, unit: Unit, recovery: PrivateKey) -> PrivateKey:
    key_row = current_unit_key(session, unit)
    return h.open_unit_key_with_recovery(
        recovery, key_row.sealed_for_recovery, unit.slug, unit.key_version
    )


@dataclass(frozen=True)
class Unlocked:
    """What a signed-in staff member can open: their key and their units' keys."""

    staff_id: int
    staff_key: PrivateKey
    unit_keys: dict[tuple[str, int], PrivateKey]  # (slug, version) → key


def verify_password(session: Session, staff: Staff, password: str, profile: KdfProfile) -> bool:
    hasher = password_hasher(profile)
    try:
        hasher.verify(staff.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(staff.password_hash):
        # Costs were raised since this hash was made: upgrade it and the key lock together.
        staff.password_hash = hasher.hash(password)
        key = h.unlock_staff_key(staff.locked_private_key, staff.id, password)
        staff.locked_private_key = h.relock_staff_key(key, staff.id, password, profile)
    return True


def unlock_staff(staff: Staff, password: str) -> PrivateKey:
    try:
        return h.unlock_staff_key(staff.locked_private_key, staff.id, password)
    except WrongPassword as exc:
        raise KeyringError("wrong password") from exc


def unlock_units(session: Session, staff_id: int, staff_key: PrivateKey) -> Unlocked:
    rows = session.execute(
        select(Membership, Unit)
        .join(Unit, Unit.id == Membership.unit_id)
        .where(Membership.staff_id == staff_id)
    ).all()
    keys = {
        (unit.slug, m.key_version): h.open_unit_key_for_staff(
            staff_key, m.sealed_unit_key, unit.slug, m.key_version, staff_id
        )
        for m, unit in rows
    }
    return Unlocked(staff_id, staff_key, keys)
