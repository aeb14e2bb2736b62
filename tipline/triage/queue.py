"""The investigators' queue: tips of the reader's units, filtered and sorted, one page at
a time with keyset pagination (a cursor names the last row seen, so a deep page costs
what the first does).

Only clear routing metadata is read here; nothing is decrypted.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.orm import Session

from tipline.errors import InvalidInput
from tipline.models import Tip, TipTag, TipUnit
from tipline.models.unit import Unit
from tipline.triage.config import PRIORITIES
from tipline.triage.workflow import OPEN_STATUSES, STATUSES, TAG

SORTS = ("newest", "oldest", "priority")
MAX_PAGE = 200
ASSIGNEE_FILTERS = ("me", "none", "any")


@dataclass(frozen=True)
class QueueFilter:
    unit: str | None = None  # a unit slug (one of the reader's); None: all of them
    statuses: tuple[str, ...] = OPEN_STATUSES
    priorities: tuple[str, ...] = ()
    category: str | None = None
    zone: str | None = None
    assignee: str = "any"  # "me", "none" or "any"
    older_than_hours: int | None = None
    tag: str | None = None
    breached: bool | None = None
    sort: str = "newest"


@dataclass(frozen=True)
class QueueItem:
    reference: str
    category: str
    zone: str | None
    priority: str
    status: str
    received_at: datetime
    channel: str
    assignee_id: int | None
    reply_waiting: bool
    sla_breached: bool
    units: tuple[str, ...] = field(default=())  # the reader's units the tip is in


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    next_cursor: str | None


def parse_filter(args: dict[str, str]) -> QueueFilter:
    """A filter from query parameters (page and API alike); a clear error for bad ones."""

    def many(name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        raw = [v.strip() for v in args.get(name, "").split(",") if v.strip()]
        bad = [v for v in raw if v not in allowed]
        if bad:
            raise InvalidInput(f"{name}: use one or more of {', '.join(allowed)}.", field=name)
        return tuple(raw)

    statuses = many("status", STATUSES) or OPEN_STATUSES
    priorities = many("priority", PRIORITIES)
    sort = args.get("sort") or "newest"
    if sort not in SORTS:
        raise InvalidInput(f"sort: use one of {', '.join(SORTS)}.", field="sort")
    assignee = args.get("assignee") or "any"
    if assignee not in ASSIGNEE_FILTERS:
        raise InvalidInput(f"assignee: use one of {', '.join(ASSIGNEE_FILTERS)}.", field="assignee")
    older = args.get("older_than_hours") or None
    if older is not None and (not older.isdigit() or not 0 < int(older) <= 24 * 3650):
        raise InvalidInput("older_than_hours: a whole number of hours.", field="older_than_hours")
    tag = args.get("tag") or None
    if tag is not None and not TAG.fullmatch(tag):
        raise InvalidInput("tag: not a valid tag.", field="tag")
    breached = {"": None, "true": True, "false": False}.get(args.get("breached", ""), "bad")
    if breached == "bad":
        raise InvalidInput("breached: true or false.", field="breached")
    for name in ("unit", "category", "zone"):
        value = args.get(name, "")
        if len(value) > 64:
            raise InvalidInput(f"{name}: too long.", field=name)
    return QueueFilter(
        unit=args.get("unit") or None,
        statuses=statuses,
        priorities=priorities,
        category=args.get("category") or None,
        zone=args.get("zone") or None,
        assignee=assignee,
        older_than_hours=int(older) if older else None,
        tag=tag,
        breached=breached,  # type: ignore[arg-type]
        sort=sort,
    )


def _sort_key(sort: str) -> tuple[list[ColumnElement[object]], bool]:
    """The ORDER BY columns and whether they run descending."""
    if sort == "priority":
        # A stored, indexed column: keyset pages walk ix_tips_priority_rank_received_at_id.
        return [Tip.priority_rank, Tip.received_at, Tip.id], False  # type: ignore[list-item]
    return [Tip.received_at, Tip.id], sort == "newest"  # type: ignore[list-item]


def encode_cursor(sort: str, item: QueueItem, tip_id: int, rank: int) -> str:
    key: list[object] = [item.received_at.isoformat(), tip_id]
    if sort == "priority":
        key.insert(0, rank)
    raw = json.dumps([sort, *key]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str) -> list[object]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(data, list) or data[0] != sort:
            raise ValueError
        values = data[1:]
        if sort == "priority":
            rank, at, tip_id = values
            if not isinstance(rank, int):
                raise ValueError
            return [rank, datetime.fromisoformat(at), int(tip_id)]
        at, tip_id = values
        return [datetime.fromisoformat(at), int(tip_id)]
    except (ValueError, TypeError, IndexError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "cursor: not a cursor from this queue and sort.", field="cursor"
        ) from None


def list_queue(
    session: Session,
    reader_units: dict[int, str],
    queue_filter: QueueFilter,
    *,
    actor_id: int,
    now: datetime,
    limit: int = 50,
    cursor: str | None = None,
) -> QueuePage:
    """One page of the queue of a reader whose units are ``reader_units`` (id → slug).

    A unit filter naming a unit the reader is not in gives an empty page, as an unknown
    unit does: the queue never says what other units hold."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit: between 1 and {MAX_PAGE}.", field="limit")
    unit_ids = set(reader_units)
    if queue_filter.unit is not None:
        unit_ids = {i for i, slug in reader_units.items() if slug == queue_filter.unit}
    if not unit_ids:
        return QueuePage([], None)
    query = select(Tip).where(
        Tip.status.in_(queue_filter.statuses),
        Tip.id.in_(select(TipUnit.tip_id).where(TipUnit.unit_id.in_(unit_ids))),
    )
    if queue_filter.priorities:
        query = query.where(Tip.priority.in_(queue_filter.priorities))
    if queue_filter.category:
        query = query.where(Tip.category == queue_filter.category)
    if queue_filter.zone:
        query = query.where(Tip.zone == queue_filter.zone)
    if queue_filter.assignee == "me":
        query = query.where(Tip.assignee_id == actor_id)
    elif queue_filter.assignee == "none":
        query = query.where(Tip.assignee_id.is_(None))
    if queue_filter.older_than_hours:
        query = query.where(Tip.received_at < now - timedelta(hours=queue_filter.older_than_hours))
    if queue_filter.tag:
        query = query.where(Tip.id.in_(select(TipTag.tip_id).where(TipTag.tag == queue_filter.tag)))
    if queue_filter.breached is not None:
        query = query.where(Tip.sla_breached.is_(queue_filter.breached))
    columns, descending = _sort_key(queue_filter.sort)
    if cursor:
        after = _decode_cursor(cursor, queue_filter.sort)
        position = tuple_(*columns)
        query = query.where(position < tuple_(*after) if descending else position > tuple_(*after))
    order = [c.desc() if descending else c.asc() for c in columns]
    tips = session.scalars(query.order_by(*order).limit(limit + 1)).all()
    more = len(tips) > limit
    tips = tips[:limit]
    units = _units_of(session, [t.id for t in tips], unit_ids)
    items = [
        QueueItem(
            t.reference,
            t.category,
            t.zone,
            t.priority,
            t.status,
            t.received_at,
            t.channel,
            t.assignee_id,
            t.reply_waiting,
            t.sla_breached,
            units.get(t.id, ()),
        )
        for t in tips
    ]
    next_cursor = (
        encode_cursor(queue_filter.sort, items[-1], tips[-1].id, tips[-1].priority_rank)
        if more
        else None
    )
    return QueuePage(items, next_cursor)


def _units_of(
    session: Session, tip_ids: list[int], unit_ids: set[int]
) -> dict[int, tuple[str, ...]]:
    found: dict[int, list[str]] = {}
    if tip_ids:
        for tip_id, slug in session.execute(
            select(TipUnit.tip_id, Unit.slug)
            .join(Unit, Unit.id == TipUnit.unit_id)
            .where(TipUnit.tip_id.in_(tip_ids), TipUnit.unit_id.in_(unit_ids))
            .order_by(TipUnit.role.desc(), Unit.slug)
        ):
            found.setdefault(tip_id, []).append(slug)
    return {k: tuple(v) for k, v in found.items()}


__all__ = ["QueueFilter", "QueueItem", "QueuePage", "list_queue", "parse_filter"]
