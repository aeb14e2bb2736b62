"""Managing people: accounts (admins), unit memberships (supervisors who hold the unit
key), one's own password, and the audit trail a supervisor may read.

Who may do what is checked here, in plain functions, so pages and tests share it:
- an admin creates, deactivates and re-roles accounts, and reads the whole audit log,
  but reads no tip unless also a unit member;
- a supervisor (or admin) who is a member of a unit grants that unit to another active
  account: the unit key, which only members hold, is sealed to the newcomer's key. An
  admin who is not a member cannot (the CLI does it with the recovery key);
- anyone changes their own password, which re-locks their staff key.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from tipline import audit
from tipline.crypto import KdfProfile, WrongPassword
from tipline.crypto import hierarchy as h
from tipline.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from tipline.keyring import (
    KeyringError,
    NewStaff,
    add_staff,
    grant_unit,
    password_hasher,
    unlock_units,
    verify_password,
)
from tipline.models import AuditEntry, Membership, Staff, Tip, TipUnit
from tipline.models.staff import ROLES
from tipline.models.unit import Unit
from tipline.staff.sessions import StaffSession
from tipline.triage.workflow import Actor

MIN_PASSWORD = 12
AUDIT_PAGE = 100


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    role: str
    active: bool
    units: tuple[str, ...]


@dataclass(frozen=True)
class UnitMembers:
    slug: str
    name: str
    members: tuple[tuple[int, str, str], ...]  # (staff id, email, role)


def _require_admin(actor: Actor) -> None:
    if actor.role != "admin":
        raise Forbidden("Only an administrator can manage accounts.")


def accounts(session: Session, actor: Actor) -> list[Account]:
    _require_admin(actor)
    units: dict[int, set[str]] = {}
    for staff_id, slug in session.execute(
        select(Membership.staff_id, Unit.slug).join(Unit, Unit.id == Membership.unit_id)
    ):
        units.setdefault(staff_id, set()).add(slug)
    return [
        Account(s.id, s.email, s.role, s.active, tuple(sorted(units.get(s.id, ()))))
        for s in session.scalars(select(Staff).order_by(Staff.email))
    ]


def create_account(
    session: Session, actor: Actor, email: str, role: str, profile: KdfProfile
) -> NewStaff:
    """A new account with a one-time password and a TOTP secret (shown once)."""
    _require_admin(actor)
    try:
        created = add_staff(session, email, role, profile)
    except KeyringError as exc:
        raise InvalidInput(str(exc), field="email") from None
    audit.record(session, actor.name, "staff.create", f"staff:{created.staff.id} {role}")
    return created


def set_active(session: Session, actor: Actor, staff_id: int, active: bool) -> None:
    _require_admin(actor)
    if staff_id == actor.staff_id:
        raise Conflict("You cannot deactivate your own account.")
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound("No such account.")
    staff.active = active
    # A deactivated account's sessions and tokens stop at their next request.
    audit.record(
        session, actor.name, "staff.activate" if active else "staff.deactivate", f"staff:{staff_id}"
    )


def set_role(session: Session, actor: Actor, staff_id: int, role: str) -> None:
    _require_admin(actor)
    if role not in ROLES:
        raise InvalidInput(f"Unknown role. Choose one of {', '.join(ROLES)}.", field="role")
    if staff_id == actor.staff_id:
        raise Conflict("You cannot change your own role.")
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound("No such account.")
    staff.role = role
    audit.record(session, actor.name, "staff.role", f"staff:{staff_id} {role}")


def my_units(session: Session, actor: Actor) -> list[UnitMembers]:
    """The units the actor belongs to, with their members (supervisors and admins)."""
    if actor.role not in ("supervisor", "admin"):
        raise Forbidden("Only a supervisor can manage unit members.")
    units = session.scalars(
        select(Unit)
        .join(Membership, Membership.unit_id == Unit.id)
        .where(Membership.staff_id == actor.staff_id)
        .distinct()
        .order_by(Unit.slug)
    ).all()
    result = []
    for unit in units:
        members = session.execute(
            select(Staff.id, Staff.email, Staff.role)
            .join(Membership, Membership.staff_id == Staff.id)
            .where(Membership.unit_id == unit.id, Staff.active.is_(True))
            .distinct()
            .order_by(Staff.email)
        ).all()
        result.append(UnitMembers(unit.slug, unit.name, tuple(members)))
    return result


def _unit_of_actor(session: Session, actor: Actor, slug: str) -> Unit:
    if actor.role not in ("supervisor", "admin"):
        raise Forbidden("Only a supervisor can manage unit members.")
    unit = session.scalars(
        select(Unit)
        .join(Membership, Membership.unit_id == Unit.id)
        .where(Unit.slug == slug, Membership.staff_id == actor.staff_id)
    ).first()
    if unit is None:
        # Not a member: the same answer as for a unit that does not exist.
        raise NotFound("No such unit among yours.")
    return unit


def grant_membership(
    session: Session, actor: Actor, staff_session: StaffSession, slug: str, email: str
) -> None:
    """Seal the unit's current key (which the actor holds) to another active account."""
    unit = _unit_of_actor(session, actor, slug)
    member = session.scalars(
        select(Staff).where(Staff.email == email.strip().lower(), Staff.active.is_(True))
    ).first()
    if member is None:
        raise InvalidInput("No active account with that email.", field="email")
    unlocked = unlock_units(session, actor.staff_id, staff_session.staff_key)
    unit_key = unlocked.unit_keys.get((unit.slug, unit.key_version))
    if unit_key is None:
        raise Conflict("Your key for this unit is out of date; sign in again after the rotation.")
    grant_unit(session, member, unit, unit_key=unit_key, actor=actor.name)


def revoke_membership(session: Session, actor: Actor, slug: str, staff_id: int) -> None:
    """Remove a member (every key version). They may have kept the key: rotate it."""
    unit = _unit_of_actor(session, actor, slug)
    if staff_id == actor.staff_id:
        raise Conflict("You cannot remove yourself from a unit.")
    removed = session.execute(
        delete(Membership).where(Membership.unit_id == unit.id, Membership.staff_id == staff_id)
    )
    if getattr(removed, "rowcount", 0) == 0:
        raise NotFound("That person is not a member of this unit.")
    session.execute(
        Tip.__table__.update()
        .where(
            Tip.assignee_id == staff_id,
            Tip.id.in_(select(TipUnit.tip_id).where(TipUnit.unit_id == unit.id)),
        )
        .values(assignee_id=None)
    )
    audit.record(session, actor.name, "membership.revoke", f"staff:{staff_id} unit:{unit.slug}")


def change_password(
    session: Session, staff_id: int, current: str, new: str, profile: KdfProfile
) -> None:
    """Re-lock one's staff key under a new password (the key itself does not change, so
    unit memberships stay valid)."""
    staff = session.get(Staff, staff_id)
    if staff is None or not staff.active:
        raise Unauthorized("Your session has ended. Please sign in again.")
    if len(new) < MIN_PASSWORD:
        raise InvalidInput(
            f"Choose a password of at least {MIN_PASSWORD} characters.", field="new_password"
        )
    if new == current:
        raise InvalidInput(
            "The new password must differ from the current one.", field="new_password"
        )
    if not verify_password(session, staff, current, profile):
        raise InvalidInput("The current password is not right.", field="password")
    try:
        key = h.unlock_staff_key(staff.locked_private_key, staff.id, current)
    except WrongPassword:
        raise InvalidInput("The current password is not right.", field="password") from None
    staff.password_hash = password_hasher(profile).hash(new)
    staff.locked_private_key = h.relock_staff_key(key, staff.id, new, profile)
    audit.record(session, f"staff:{staff_id}", "staff.password")


def audit_trail(session: Session, actor: Actor, before: int | None = None) -> list[AuditEntry]:
    """The newest audit entries the actor may read: all of them for an admin; for a
    supervisor, those about their units' tips and their units' memberships and keys."""
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(AUDIT_PAGE)
    if before is not None:
        query = query.where(AuditEntry.seq < before)
    if actor.role == "admin":
        return list(session.scalars(query))
    if actor.role != "supervisor":
        raise Forbidden("Only a supervisor can read the audit trail.")
    slugs = list(
        session.scalars(
            select(Unit.slug)
            .join(Membership, Membership.unit_id == Unit.id)
            .where(Membership.staff_id == actor.staff_id)
            .distinct()
        )
    )
    references = select(Tip.reference).where(
        Tip.id.in_(
            select(TipUnit.tip_id)
            .join(Unit, Unit.id == TipUnit.unit_id)
            .where(Unit.slug.in_(slugs))
        )
    )
    # Tip entries start with the tip's reference (10 characters); unit entries name it.
    about_units = [AuditEntry.subject.like(f"%unit:{slug}") for slug in slugs] + [
        AuditEntry.subject.like(f"{slug} v%") for slug in slugs
    ]
    return list(
        session.scalars(
            query.where(or_(func.substr(AuditEntry.subject, 1, 10).in_(references), *about_units))
        )
    )
