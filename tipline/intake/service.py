"""Accept one tip: validate, seal, and commit it with its outbox row in one transaction.

Intake holds public keys only (units, recovery): nothing here can read a tip back.
"""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
from dataclasses import dataclass, field

from sqlalchemy import delete, insert, text
from sqlalchemy.orm import Session

from tipline.crypto import PrivateKey, PublicKey, tipster
from tipline.crypto import hierarchy as h
from tipline.errors import InvalidInput, TooLarge
from tipline.i18n import LANGUAGES, _l
from tipline.intake.attachments import CleanFile, seal_files
from tipline.keyring import UnitKeyRow, current_unit_keys
from tipline.models import OutboxEntry, SealedItem, Tip, TipKeyGrant, TipUnit
from tipline.models.base import truncated_now, utcnow
from tipline.stats.rollup import tracking
from tipline.store import AttachmentStore
from tipline.triage.config import TiplineConfig
from tipline.triage.routing import Routing, has_urgent_words, route

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
    zone: str  # a zone id, UNKNOWN_ZONE, or "" when the place is given another way
    description: str
    lang: str = "en"
    channel: str = "web"
    postal_code: str = ""
    lat: str = ""
    lon: str = ""
    honeypot: str = ""  # a field people never see; form-filling bots fill it


@dataclass(frozen=True)
class Place:
    """Where it happened, as the tipster gave it. Only ``zone`` is stored in clear; the
    postal code or point travels sealed in the body (it can point at someone's home)."""

    zone: str | None
    postal_code: str | None = None
    point: tuple[float, float] | None = None


_POSTAL = re.compile(r"[A-Z]\d[A-Z](\d[A-Z]\d)?")


def resolve_place(config: TiplineConfig, submission: TipSubmission) -> Place:
    """A picked zone wins, then a postal code, then a point. A place that is in no zone
    goes to the "needs zone" desk: never an error for the tipster."""
    if submission.zone and submission.zone != UNKNOWN_ZONE:
        if submission.zone not in config.zones:
            raise InvalidInput(
                _l("That area is not one we know. Please choose from the list."), field="zone"
            )
        return Place(submission.zone)
    if submission.postal_code.strip():
        code = re.sub(r"[\s-]", "", submission.postal_code).upper()
        if not _POSTAL.fullmatch(code):
            raise InvalidInput(
                _l(
                    "That postal code does not look right. Use a form like K1A 0B1, or leave it empty."
                ),
                field="postal_code",
            )
        zone = config.zone_for_postal_code(code)
        return Place(zone.id if zone else None, postal_code=code)
    if submission.lat.strip() or submission.lon.strip():
        try:
            lat, lon = float(submission.lat), float(submission.lon)
        except ValueError:
            raise InvalidInput(
                _l("The map point is not valid: give both latitude and longitude."), field="lat"
            ) from None
        if not (
            math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180
        ):
            raise InvalidInput(
                _l("The map point is outside the world's latitude/longitude range."), field="lat"
            )
        zone = config.zone_for_point(lat, lon)
        return Place(zone.id if zone else None, point=(round(lat, 6), round(lon, 6)))
    if submission.zone == UNKNOWN_ZONE:
        return Place(None)
    raise InvalidInput(_l("Please choose where it happened, or “I don't know”."), field="zone")


@dataclass(frozen=True)
class Receipt:
    tip_id: int
    reference: str
    outbox_id: int
    # Shown once on the receipt page and never stored: it opens the follow-up.
    passphrase: str | None = field(default=None, repr=False)
    # Only for a conversation that will re-route the tip itself (SMS menu); see accept_tip.
    tip_key: PrivateKey | None = field(default=None, repr=False)


def validate(
    config: TiplineConfig,
    submission: TipSubmission,
    max_chars: int,
    min_chars: int = MIN_DESCRIPTION,
) -> Place:
    """Check everything the tipster sent; returns where it happened."""
    if submission.honeypot.strip():
        # Said plainly, and the text is kept: a person whose tool filled it loses nothing.
        raise InvalidInput(
            _l("Please leave the field labelled “Leave this empty” empty, then send again."),
            field="website",
        )
    if not submission.category:
        raise InvalidInput(_l("Please choose what the tip is about."), field="category")
    if submission.category not in config.categories:
        raise InvalidInput(
            _l("That category is not one we know. Please choose from the list."), field="category"
        )
    text = submission.description.strip()
    if len(text) < min_chars:
        raise InvalidInput(
            _l("Please describe what you know in at least %(n)s characters.", n=MIN_DESCRIPTION),
            field="description",
        )
    if len(submission.description) > max_chars:
        raise TooLarge(
            _l("The description is too long (at most %(n)s characters).", n=max_chars),
            field="description",
        )
    if submission.lang not in LANGUAGES:
        raise InvalidInput(_l("Unsupported language."), field="lang")
    return resolve_place(config, submission)


def accept_tip(
    session: Session,
    config: TiplineConfig,
    recovery: PublicKey,
    submission: TipSubmission,
    *,
    max_chars: int,
    granularity_minutes: int,
    attachments: list[CleanFile] | None = None,
    store: AttachmentStore | None = None,
    written: list[str] | None = None,
    tipster_pepper: bytes | None = None,
    min_chars: int = MIN_DESCRIPTION,
    keep_tip_key: bool = False,
) -> Receipt:
    """Seal and stage a tip in ``session``; the caller commits (one transaction).

    With ``tipster_pepper`` (web tips), the tipster gets a passphrase: the tip key is also
    sealed to the key it derives, and its lookup id is stored to find that grant again.

    ``attachments`` are already scrubbed (clean_uploads); their sealed files are written
    to ``store`` and their paths appended to ``written``, for the caller to delete if the
    transaction does not commit.

    ``keep_tip_key`` returns the tip private key in the receipt instead of forgetting it:
    only for an SMS conversation, whose category and place come in later messages and
    which re-routes the tip (reroute_tip) while the menu is open.
    """
    place = validate(config, submission, max_chars, min_chars)
    zone = place.zone
    # Urgent words are matched here, in memory; only the fact of a match is stored.
    urgent = has_urgent_words(config, submission.description)
    routing = route(config, zone, submission.category, urgent)
    slugs = (routing.primary, *routing.info_only)
    unit_rows = current_unit_keys(session, slugs)
    missing = [slug for slug in slugs if slug not in unit_rows]
    if missing:
        # Config names a unit the database does not have: an operator error, not the tipster's.
        raise RuntimeError(f"units missing from the database: {', '.join(missing)}")

    tip_key = h.new_tip_key()
    reference = new_reference()
    received_at = truncated_now(granularity_minutes)
    grants = unit_grants(tip_key, reference, slugs, unit_rows)
    grants.append(
        {
            "holder": h.RECOVERY_HOLDER,
            "holder_version": 1,
            "sealed_key": h.seal_tip_key(tip_key, reference, h.RECOVERY_HOLDER, 1, recovery.raw),
        }
    )
    passphrase = lookup_id = None
    if tipster_pepper is not None:
        passphrase = tipster.new_passphrase()
        derived = tipster.derive(passphrase, tipster_pepper)
        lookup_id = derived.lookup_id
        grants.append(
            {
                "holder": h.TIPSTER_HOLDER,
                "holder_version": 1,
                "sealed_key": h.seal_tip_key(
                    tip_key, reference, h.TIPSTER_HOLDER, 1, derived.key.public_key.raw
                ),
            }
        )
        del derived
    body = json.dumps(
        {
            "description": submission.description,
            "lang": submission.lang,
            "postal_code": place.postal_code,
            "point": place.point,
            # The exact time is content: sealed, while the clear column is truncated.
            "submitted_at": utcnow().isoformat(timespec="seconds"),
        }
    ).encode()
    item_key = secrets.token_hex(16)
    sealed_body = h.seal_tip_item(tip_key.public_key.raw, reference, "body", item_key, body)
    public_key = tip_key.public_key.raw
    kept = tip_key if keep_tip_key else None
    del tip_key  # intake forgets the tip private key once it is sealed to its holders
    items: list[dict[str, object]] = [
        {"kind": "body", "item_key": item_key, "ciphertext": sealed_body, "blob_path": None}
    ]
    if attachments:
        if store is None or written is None:
            raise ValueError("attachments need a store and a list of written paths")
        items += seal_files(attachments, store, public_key, reference, written)

    staged = StagedTip(
        tip={
            "reference": reference,
            "channel": submission.channel,
            "zone": zone,
            "category": submission.category,
            "priority": routing.priority,
            "urgent_words": urgent,
            "status": "received",
            "received_at": received_at,
            "public_key": public_key,
            "key_version": 1,
            "tipster_lookup": lookup_id,
        },
        units=[
            {
                "unit_id": unit_rows[slug].id,
                "role": "primary" if slug == routing.primary else "info",
            }
            for slug in slugs
        ],
        grants=grants,
        items=[{**item, "created_at": received_at} for item in items],
    )
    tip_id, outbox_id = _write(session, staged)
    return Receipt(tip_id, reference, outbox_id, passphrase, kept)


def unit_grants(
    tip_key: PrivateKey, reference: str, slugs: tuple[str, ...], unit_rows: dict[str, UnitKeyRow]
) -> list[dict[str, object]]:
    """The tip key sealed to the current key of each unit."""
    return [
        {
            "holder": h.unit_holder(slug),
            "holder_version": unit_rows[slug].version,
            "sealed_key": h.seal_tip_key(
                tip_key,
                reference,
                h.unit_holder(slug),
                unit_rows[slug].version,
                unit_rows[slug].public_key,
            ),
        }
        for slug in slugs
    ]


def reroute_tip(
    session: Session,
    config: TiplineConfig,
    tip: Tip,
    tip_key: PrivateKey,
    *,
    zone: str | None,
    category: str,
    urgent: bool,
) -> Routing:
    """Give a tip its category and place after intake, and move it to the units those
    route to: the tip key is sealed to the new units, and the units it leaves lose their
    row and their grant. The caller commits."""
    with tracking(session, [tip.id]):
        return _reroute(session, config, tip, tip_key, zone, category, urgent)


def _reroute(
    session: Session,
    config: TiplineConfig,
    tip: Tip,
    tip_key: PrivateKey,
    zone: str | None,
    category: str,
    urgent: bool,
) -> Routing:
    routing = route(config, zone, category, urgent)
    slugs = (routing.primary, *routing.info_only)
    unit_rows = current_unit_keys(session, slugs)
    session.execute(delete(TipUnit).where(TipUnit.tip_id == tip.id))
    session.execute(
        delete(TipKeyGrant).where(
            TipKeyGrant.tip_id == tip.id, TipKeyGrant.holder.startswith("unit:")
        )
    )
    session.execute(
        insert(TipUnit),
        [
            {
                "tip_id": tip.id,
                "unit_id": unit_rows[slug].id,
                "role": "primary" if slug == routing.primary else "info",
            }
            for slug in slugs
        ],
    )
    session.execute(
        insert(TipKeyGrant),
        [{"tip_id": tip.id, **g} for g in unit_grants(tip_key, tip.reference, slugs, unit_rows)],
    )
    tip.zone, tip.category, tip.priority = zone, category, routing.priority
    tip.urgent_words = urgent
    return routing


@dataclass(frozen=True)
class StagedTip:
    """The rows of one sealed tip, ready to write."""

    tip: dict[str, object]
    units: list[dict[str, object]]
    grants: list[dict[str, object]]
    items: list[dict[str, object]]  # the body first, then attachments


# PostgreSQL writes the whole tip (tip, units, key grants, body, outbox) in one statement:
# one round trip instead of six on the hottest path we have. Same rows as _write_rows.
_PG_WRITE = text(
    """
WITH t AS (
  INSERT INTO tips (reference, channel, zone, category, priority, urgent_words, status,
                    received_at, public_key, key_version, tipster_lookup)
  VALUES (:reference, :channel, :zone, :category, :priority, :urgent_words, :status,
          :received_at, :public_key, :key_version, :tipster_lookup)
  RETURNING id
), u AS (
  INSERT INTO tip_units (tip_id, unit_id, role)
  SELECT t.id, x.unit_id, x.role
  FROM t, unnest(CAST(:unit_ids AS integer[]), CAST(:roles AS text[])) AS x(unit_id, role)
), g AS (
  INSERT INTO tip_key_grants (tip_id, holder, holder_version, sealed_key)
  SELECT t.id, x.holder, x.version, x.sealed
  FROM t, unnest(CAST(:holders AS text[]), CAST(:versions AS integer[]),
                 CAST(:sealed AS bytea[])) AS x(holder, version, sealed)
), i AS (
  INSERT INTO sealed_items (tip_id, kind, item_key, created_at, ciphertext, blob_path)
  SELECT t.id, x.kind, x.item_key, :received_at, x.ciphertext, x.blob_path
  FROM t, unnest(CAST(:item_kinds AS text[]), CAST(:item_keys AS text[]),
                 CAST(:item_ciphertexts AS bytea[]), CAST(:item_paths AS text[]))
       AS x(kind, item_key, ciphertext, blob_path)
)
INSERT INTO outbox (job, tip_id, created_at, attempts)
SELECT 'route_tip', t.id, :received_at, 0 FROM t
RETURNING tip_id, id
"""
)


def _write(session: Session, staged: StagedTip) -> tuple[int, int]:
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(
            _PG_WRITE,
            {
                **staged.tip,
                "unit_ids": [u["unit_id"] for u in staged.units],
                "roles": [u["role"] for u in staged.units],
                "holders": [g["holder"] for g in staged.grants],
                "versions": [g["holder_version"] for g in staged.grants],
                "sealed": [g["sealed_key"] for g in staged.grants],
                "item_kinds": [i["kind"] for i in staged.items],
                "item_keys": [i["item_key"] for i in staged.items],
                "item_ciphertexts": [i["ciphertext"] for i in staged.items],
                "item_paths": [i["blob_path"] for i in staged.items],
            },
        ).one()
        return row[0], row[1]
    return _write_rows(session, staged)


def _write_rows(session: Session, staged: StagedTip) -> tuple[int, int]:
    """Portable path (SQLite): Core inserts, one statement per table."""
    tip_id = session.execute(insert(Tip).values(**staged.tip).returning(Tip.id)).scalar_one()
    session.execute(insert(TipUnit), [{"tip_id": tip_id, **u} for u in staged.units])
    session.execute(insert(TipKeyGrant), [{"tip_id": tip_id, **g} for g in staged.grants])
    session.execute(insert(SealedItem), [{"tip_id": tip_id, **item} for item in staged.items])
    outbox_id = session.execute(
        insert(OutboxEntry)
        .values(job="route_tip", tip_id=tip_id, created_at=staged.tip["received_at"], attempts=0)
        .returning(OutboxEntry.id)
    ).scalar_one()
    return tip_id, outbox_id
