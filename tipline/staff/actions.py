"""Everything staff can do to a tip, in one place for the pages and the JSON API.

Each action opens the tip first (a tip of another unit, or one that does not exist, is
"not found" either way), then calls one workflow function. Parameters come as a plain
mapping (a form or a JSON object) and are checked here, with a clear error each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from tipline import audit
from tipline.crypto import PrivateKey
from tipline.errors import Forbidden, InvalidInput, NotFound
from tipline.followup.thread import INVESTIGATOR, check_message, post_message, set_reward
from tipline.models import Tip
from tipline.outbox import Work
from tipline.runtime import Runtime
from tipline.sms.outbound import queue_text
from tipline.staff.access import actor_of
from tipline.staff.reading import unlocked_tip
from tipline.staff.sessions import StaffSession
from tipline.triage import workflow
from tipline.triage.workflow import Actor

# Rewards are a supervisor's decision (Crime Stoppers practice: not the investigator's).
REWARD_ROLES = ("supervisor",)


@dataclass(frozen=True)
class Done:
    reference: str
    outcome: str  # what happened, for the page's notice ("claimed", "sms", …)
    work: tuple[Work, ...] = ()  # committed outbox rows to enqueue


# (what happened, committed outbox rows to enqueue)
Outcome = tuple[str, tuple[Work, ...]]
Handler = Callable[
    [Session, Runtime, Tip, PrivateKey, Actor, Mapping[str, Any], StaffSession], Outcome
]


def _text(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: a string is expected.", field=name)
    return value


def _claim(db, runtime, tip, _key, actor, _params, _s):  # type: ignore[no-untyped-def]
    workflow.claim(db, tip, actor, runtime.settings.time_granularity_minutes)
    return "claimed", ()


def _release(db, _runtime, tip, _key, actor, _params, _s):  # type: ignore[no-untyped-def]
    workflow.release(db, tip, actor)
    return "released", ()


def _assign(db, runtime, tip, _key, actor, params, _s):  # type: ignore[no-untyped-def]
    raw = params.get("assignee_id")
    if raw in (None, ""):
        assignee = None
    elif isinstance(raw, int) and not isinstance(raw, bool):
        assignee = raw
    elif isinstance(raw, str) and raw.isdigit():
        assignee = int(raw)
    else:
        raise InvalidInput("assignee_id: a staff id, or empty for nobody.", field="assignee_id")
    workflow.assign(db, tip, actor, assignee, runtime.settings.time_granularity_minutes)
    return "assigned", ()


def _status(db, runtime, tip, _key, actor, params, _s):  # type: ignore[no-untyped-def]
    workflow.set_status(
        db,
        tip,
        actor,
        _text(params, "status"),
        runtime.settings.time_granularity_minutes,
        disposition=_text(params, "disposition") or None,
        expected=_text(params, "expected") or None,
    )
    return "status", ()


def _note(db, runtime, tip, _key, actor, params, _s):  # type: ignore[no-untyped-def]
    workflow.add_note(
        db, tip, actor, _text(params, "note"), runtime.settings.time_granularity_minutes
    )
    return "note", ()


def _tags(db, _runtime, tip, _key, actor, params, _s):  # type: ignore[no-untyped-def]
    raw = params.get("tags", "")
    if isinstance(raw, str):
        tags = raw.split(",")
    elif isinstance(raw, list) and all(isinstance(t, str) for t in raw):
        tags = raw
    else:
        raise InvalidInput("tags: a list of short labels.", field="tags")
    workflow.set_tags(db, tip, actor, tags)
    return "tags", ()


def _link(db, _runtime, tip, _key, actor, params, staff_session):  # type: ignore[no-untyped-def]
    other_ref = _text(params, "reference").strip().upper()
    if not other_ref:
        raise InvalidInput("reference: the tip to link to.", field="reference")
    try:
        # The other tip must be one the actor can open too: the same "not found" otherwise.
        other, _other_key = unlocked_tip(db, staff_session, other_ref)
    except NotFound:
        raise InvalidInput("No tip with that reference in your units.", field="reference") from None
    workflow.link(db, tip, other, actor, _text(params, "kind") or "related")
    return "linked", ()


def _refer(db, runtime, tip, key, actor, params, _s):  # type: ignore[no-untyped-def]
    workflow.refer(
        db, tip, key, actor, _text(params, "unit"), runtime.settings.time_granularity_minutes
    )
    return "referred", ()


def _message(db, runtime, tip, _key, actor, params, _s):  # type: ignore[no-untyped-def]
    """Ask the tipster: sealed to the tip (web follow-up), and texted for an SMS tip."""
    text = check_message(_text(params, "message"))
    post_message(db, tip, INVESTIGATOR, text, runtime.settings.time_granularity_minutes)
    audit.record(db, actor.name, "tip.message", tip.reference)
    if tip.channel != "sms":
        return "message", ()
    work = queue_text(db, runtime, tip, text)
    if work is None:
        return "sms-unreachable", ()
    return "sms", (work,)


def _reward(db, runtime, tip, _key, actor, params, _s):  # type: ignore[no-untyped-def]
    if actor.role not in REWARD_ROLES:
        raise Forbidden("Only a supervisor can decide a reward.")
    set_reward(
        db,
        tip,
        _text(params, "decision"),
        _text(params, "note"),
        runtime.settings.time_granularity_minutes,
    )
    audit.record(db, actor.name, "tip.reward", tip.reference)
    return "reward", ()


ACTIONS: dict[str, Handler] = {
    "claim": _claim,
    "release": _release,
    "assign": _assign,
    "status": _status,
    "notes": _note,
    "tags": _tags,
    "links": _link,
    "refer": _refer,
    "messages": _message,
    "reward": _reward,
}


def perform(
    db: Session,
    runtime: Runtime,
    staff_session: StaffSession,
    reference: str,
    action: str,
    params: Mapping[str, Any],
) -> Done:
    """Do ``action`` on the tip ``reference`` in ``db`` (the caller commits, then enqueues
    ``Done.work``)."""
    handler = ACTIONS.get(action)
    if handler is None:
        raise NotFound("No such action.")
    actor = actor_of(db, staff_session)
    tip, tip_key = unlocked_tip(db, staff_session, reference.strip().upper())
    outcome, work = handler(db, runtime, tip, tip_key, actor, params, staff_session)
    return Done(tip.reference, outcome, work)
