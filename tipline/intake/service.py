"""Accept one tip: validate, seal, and commit it with its outbox row in one transaction.

Intake holds public keys only (units, recovery): nothing here can read a tip back.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline.crypto import PublicKey
from tipline.crypto import hierarchy as h
from tipline.errors import InvalidInput, TooLarge
from tipline.keyring import current_unit_key
from tipline.models import OutboxEntry, SealedItem, Tip, TipKeyGrant, TipUnit, Unit
from tipline.models.base import truncated_now, utcnow
from tipline.triage.config import TiplineConfig
from tipline.triage.routing import has_urgent_words, route

log = logging.getLogger(__name__)

# Crockford base32 without look-alikes: easy to read aloud and to type from paper.
_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_LENGTH = 10  # ~49 bits: unguessable for lookups, short enough to write down
UNKNOWN_ZONE = "unknown"
MIN_DESCRIPTION = 10


def new_reference() -> str:
    return "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


@dataclass(frozen=True)
class TipSubmission:
    category: str
    zone: str  # a zone id, or UNKNOWN_ZONE when the tipster does not know
    description: str
    lang: str = "en"
    channel: str = "web"


@dataclass(frozen=True)
class Receipt:
    tip_id: int
    reference: str
    outbox_id: int


def validate(config: TiplineConfig, submission: TipSubmission, max_chars: int) -> None:
    if not submission.category:
        raise InvalidInput("Please choose what the tip is about.", field="category")
    if submission.category not in config.categories:
        raise InvalidInput(
            "That category is not one we know. Please choose from the list.", field="category"
        )
    if not submission.zone:
        raise InvalidInput("Please choose where it happened, or “I don't know”.", field="zone")
    if submission.zone != UNKNOWN_ZONE and submission.zone not in config.zones:
        raise InvalidInput(
            "That area is not one we know. Please choose from the list.", field="zone"
        )
    text = submission.description.strip()
    if len(text) < MIN_DESCRIPTION:
        raise InvalidInput(
            f"Please describe what you know in at least {MIN_DESCRIPTION} characters.",
            field="description",
        )
    if len(submission.description) > max_chars:
        raise TooLarge(
            f"The description is too long (at most {max_chars} characters).", field="description"
        )
    if submission.lang not in ("en", "fr"):
        raise InvalidInput("Unsupported language.", field="lang")


def accept_tip(
    session: Session,
    config: TiplineConfig,
    recovery: PublicKey,
    submission: TipSubmission,
    *,
    max_chars: int,
    granularity_minutes: int,
) -> Receipt:
    """Seal and stage a tip in ``session``; the caller commits (one transaction)."""
    validate(config, submission, max_chars)
    zone = None if submission.zone == UNKNOWN_ZONE else submission.zone
    # Urgent words are matched here, in memory; only the fact of a match is stored.
    urgent = has_urgent_words(config, submission.description)
    routing = route(config, zone, submission.category, urgent)
    slugs = (routing.primary, *routing.info_only)
    units = {u.slug: u for u in session.scalars(select(Unit).where(Unit.slug.in_(slugs)))}
    missing = [slug for slug in slugs if slug not in units]
    if missing:
        # Config names a unit the database does not have: an operator error, not the tipster's.
        raise RuntimeError(f"units missing from the database: {', '.join(missing)}")

    tip_key = h.new_tip_key()
    reference = new_reference()
    tip = Tip(
        reference=reference,
        channel=submission.channel,
        zone=zone,
        category=submission.category,
        priority=routing.priority,
        urgent_words=urgent,
        status="received",
        received_at=truncated_now(granularity_minutes),
        public_key=tip_key.public_key.raw,
        key_version=1,
    )
    for slug in slugs:
        unit = units[slug]
        key_row = current_unit_key(session, unit)
        tip.units.append(
            TipUnit(unit_id=unit.id, role="primary" if slug == routing.primary else "info")
        )
        tip.grants.append(
            TipKeyGrant(
                holder=h.unit_holder(slug),
                holder_version=key_row.version,
                sealed_key=h.seal_tip_key(
                    tip_key, reference, h.unit_holder(slug), key_row.version, key_row.public_key
                ),
            )
        )
    tip.grants.append(
        TipKeyGrant(
            holder=h.RECOVERY_HOLDER,
            holder_version=1,
            sealed_key=h.seal_tip_key(tip_key, reference, h.RECOVERY_HOLDER, 1, recovery.raw),
        )
    )
    body = json.dumps(
        {
            "description": submission.description,
            "lang": submission.lang,
            # The exact time is content: sealed, while the clear column is truncated.
            "submitted_at": utcnow().isoformat(timespec="seconds"),
        }
    ).encode()
    item_key = secrets.token_hex(16)
    tip.items.append(
        SealedItem(
            kind="body",
            item_key=item_key,
            created_at=tip.received_at,
            ciphertext=h.seal_tip_item(tip.public_key, reference, "body", item_key, body),
        )
    )
    del tip_key  # intake forgets the tip private key once it is sealed to its holders
    session.add(tip)
    session.flush()
    outbox = OutboxEntry(job="route_tip", tip_id=tip.id)
    session.add(outbox)
    session.flush()
    return Receipt(tip.id, reference, outbox.id)
