"""Unit key rotation: a new key version, then every tip key of the unit re-sealed to it.

Why: a unit key that may have leaked (a departed member kept a copy, a laptop was lost)
must stop opening the unit's tips. Steps, each safe to interrupt and run again:

1. :func:`start` — a new keypair version (private half sealed to the recovery key), made
   current, and sealed to every current member, in one transaction. Intake seals new tips
   to it within ``UNIT_KEY_CACHE_SECONDS``.
2. :func:`reseal_batch`, repeatedly — tips of the unit without a grant for the current
   version get one: the tip key is opened with an older unit key (from the recovery
   key) and sealed to the new public key. Committed batch by batch: a rerun goes on
   where the last one stopped.
3. :func:`finish` — once no tip lacks the new grant (after the intake cache has had time
   to expire), the old versions' grants and memberships are deleted: the old key then
   opens nothing in the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session, aliased

from tipline import audit
from tipline.crypto import CryptoError, PrivateKey
from tipline.crypto import hierarchy as h
from tipline.keyring import KeyringError
from tipline.models import Membership, Staff, Tip, TipKeyGrant, TipUnit
from tipline.models.unit import Unit, UnitKey


@dataclass(frozen=True)
class Progress:
    done: int  # tips of the unit with a grant for the current version
    total: int  # tips of the unit


def unit_by_slug(session: Session, slug: str) -> Unit:
    unit = session.scalars(select(Unit).where(Unit.slug == slug)).first()
    if unit is None:
        raise KeyringError(f"unknown unit {slug!r} (run `tipline units sync`?)")
    return unit


def in_progress(session: Session, unit: Unit) -> bool:
    """A rotation was started and not finished: older versions still hold grants."""
    return bool(
        session.scalar(
            select(func.count())
            .select_from(TipKeyGrant)
            .where(
                TipKeyGrant.holder == h.unit_holder(unit.slug),
                TipKeyGrant.holder_version < unit.key_version,
            )
        )
    )


def start(session: Session, unit: Unit, recovery: PrivateKey, actor: str = "cli") -> int:
    """Make a new current key version for ``unit`` and seal it to every member; returns
    the new version. The recovery private key proves the caller may do this (it opens
    every unit key anyway) and is not otherwise needed here."""
    current = session.scalars(
        select(UnitKey).where(UnitKey.unit_id == unit.id, UnitKey.version == unit.key_version)
    ).one()
    try:
        h.open_unit_key_with_recovery(
            recovery, current.sealed_for_recovery, unit.slug, unit.key_version
        )
    except CryptoError:
        raise KeyringError("that is not this deployment's recovery key") from None
    version = unit.key_version + 1
    material = h.create_unit_key(unit.slug, version, recovery.public_key)
    session.add(
        UnitKey(
            unit_id=unit.id,
            version=version,
            public_key=material.public_raw,
            sealed_for_recovery=material.sealed_for_recovery,
        )
    )
    unit.key_version = version
    members = session.scalars(
        select(Staff)
        .join(Membership, Membership.staff_id == Staff.id)
        .where(Membership.unit_id == unit.id)
        .distinct()
    ).all()
    for member in members:
        session.add(
            Membership(
                staff_id=member.id,
                unit_id=unit.id,
                key_version=version,
                sealed_unit_key=h.seal_unit_key_for_staff(
                    material.private_key, unit.slug, version, member.id, member.public_key
                ),
            )
        )
    session.flush()
    audit.record(session, actor, "unit.rotate", f"{unit.slug} v{version}")
    return version


def progress(session: Session, unit: Unit) -> Progress:
    holder = h.unit_holder(unit.slug)
    tips = select(TipUnit.tip_id).where(TipUnit.unit_id == unit.id)
    total = session.scalar(select(func.count()).select_from(tips.subquery())) or 0
    done = (
        session.scalar(
            select(func.count())
            .select_from(TipKeyGrant)
            .where(
                TipKeyGrant.holder == holder,
                TipKeyGrant.holder_version == unit.key_version,
                TipKeyGrant.tip_id.in_(tips),
            )
        )
        or 0
    )
    return Progress(done, total)


def old_unit_keys(session: Session, unit: Unit, recovery: PrivateKey) -> dict[int, PrivateKey]:
    """Every older version of the unit key, opened with the recovery key."""
    return {
        row.version: h.open_unit_key_with_recovery(
            recovery, row.sealed_for_recovery, unit.slug, row.version
        )
        for row in session.scalars(
            select(UnitKey).where(UnitKey.unit_id == unit.id, UnitKey.version < unit.key_version)
        )
    }


def reseal_batch(
    session: Session, unit: Unit, old_keys: dict[int, PrivateKey], limit: int = 500
) -> int:
    """Seal the tip keys of up to ``limit`` tips lacking a current-version grant to the
    current unit key; how many were done (0: none left)."""
    holder = h.unit_holder(unit.slug)
    public = session.scalars(
        select(UnitKey.public_key).where(
            UnitKey.unit_id == unit.id, UnitKey.version == unit.key_version
        )
    ).one()
    newer = aliased(TipKeyGrant)
    rows = session.execute(
        select(TipKeyGrant, Tip.reference)
        .join(Tip, Tip.id == TipKeyGrant.tip_id)
        .where(
            TipKeyGrant.holder == holder,
            TipKeyGrant.holder_version < unit.key_version,
            ~exists().where(
                newer.tip_id == TipKeyGrant.tip_id,
                newer.holder == holder,
                newer.holder_version == unit.key_version,
            ),
        )
        .order_by(TipKeyGrant.tip_id, TipKeyGrant.holder_version.desc())
        .limit(limit)
    ).all()
    done: set[int] = set()
    for grant, reference in rows:
        if grant.tip_id in done or grant.holder_version not in old_keys:
            continue
        tip_key = h.open_tip_key(
            old_keys[grant.holder_version],
            grant.sealed_key,
            reference,
            holder,
            grant.holder_version,
        )
        session.add(
            TipKeyGrant(
                tip_id=grant.tip_id,
                holder=holder,
                holder_version=unit.key_version,
                sealed_key=h.seal_tip_key(tip_key, reference, holder, unit.key_version, public),
            )
        )
        done.add(grant.tip_id)
    session.flush()
    return len(done)


def finish(session: Session, unit: Unit, actor: str = "cli") -> None:
    """Delete the older versions' tip grants and memberships. Refuses while any tip of
    the unit still lacks a grant for the current version."""
    left = progress(session, unit)
    if left.done < left.total:
        raise KeyringError(
            f"{left.total - left.done} tip(s) of {unit.slug} still lack the new key; run again"
        )
    session.execute(
        delete(TipKeyGrant).where(
            TipKeyGrant.holder == h.unit_holder(unit.slug),
            TipKeyGrant.holder_version < unit.key_version,
        )
    )
    session.execute(
        delete(Membership).where(
            Membership.unit_id == unit.id, Membership.key_version < unit.key_version
        )
    )
    audit.record(session, actor, "unit.rotate.done", f"{unit.slug} v{unit.key_version}")
