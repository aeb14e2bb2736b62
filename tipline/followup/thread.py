"""A tip's conversation: messages between investigators and the tipster, files the
tipster added later, and the reward decision — every one sealed to the tip key.

Anyone who may add to a tip (staff of its units, the signed-in tipster) seals with the
tip's public key; reading needs the tip private key. The clear row keeps only the kind
and a truncated time; who wrote, what, and exactly when are inside the seal.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from tipline.crypto import PrivateKey, SealError
from tipline.crypto import hierarchy as h
from tipline.errors import InvalidInput, TooLarge
from tipline.i18n import _l
from tipline.models import SealedItem, Tip
from tipline.models.base import truncated_now, utcnow

INVESTIGATOR = "investigator"
TIPSTER = "tipster"
REWARD_DECISIONS = ("under_review", "approved", "declined")
MAX_MESSAGE_CHARS = 5000


@dataclass(frozen=True)
class Message:
    author: str  # INVESTIGATOR or TIPSTER: never which staff member
    text: str
    sent_at: str  # ISO time, from inside the seal


@dataclass(frozen=True)
class FileInfo:
    item_key: str
    name: str
    media_type: str
    size: int


@dataclass(frozen=True)
class RewardDecision:
    decision: str  # one of REWARD_DECISIONS
    note: str
    decided_at: str


@dataclass(frozen=True)
class Thread:
    messages: list[Message]
    files: list[FileInfo]
    reward: RewardDecision | None


def check_message(text: str) -> str:
    """The text of a message, or a clear error for the person writing it."""
    text = text.strip()
    if not text:
        raise InvalidInput(_l("Please write a message before sending."), field="message")
    if len(text) > MAX_MESSAGE_CHARS:
        raise TooLarge(
            _l("The message is too long (at most %(n)s characters).", n=MAX_MESSAGE_CHARS),
            field="message",
        )
    return text


def _add_item(
    session: Session, tip: Tip, kind: str, payload: dict[str, object], granularity: int
) -> str:
    item_key = secrets.token_hex(16)
    sealed = h.seal_tip_item(
        tip.public_key, tip.reference, kind, item_key, json.dumps(payload).encode()
    )
    session.execute(
        insert(SealedItem).values(
            tip_id=tip.id,
            kind=kind,
            item_key=item_key,
            created_at=truncated_now(granularity),
            ciphertext=sealed,
        )
    )
    return item_key


def post_message(session: Session, tip: Tip, author: str, text: str, granularity: int) -> str:
    """Seal a message to the tip; returns its item key. The caller commits."""
    if author not in (INVESTIGATOR, TIPSTER):
        raise ValueError(f"unknown author {author!r}")
    payload = {
        "author": author,
        "text": check_message(text),
        "sent_at": utcnow().isoformat(timespec="seconds"),
    }
    return _add_item(session, tip, "message", payload, granularity)


def add_files(session: Session, tip: Tip, rows: list[dict[str, object]], granularity: int) -> None:
    """Stage the rows of files sealed by intake.attachments.seal_files. The caller commits."""
    if rows:
        created_at = truncated_now(granularity)
        session.execute(
            insert(SealedItem), [{"tip_id": tip.id, "created_at": created_at, **r} for r in rows]
        )


def set_reward(session: Session, tip: Tip, decision: str, note: str, granularity: int) -> str:
    """Record a reward decision (the latest one is the decision). The caller commits."""
    if decision not in REWARD_DECISIONS:
        raise InvalidInput(_l("Choose a reward decision from the list."), field="decision")
    payload = {
        "decision": decision,
        "note": note.strip()[:MAX_MESSAGE_CHARS],
        "decided_at": utcnow().isoformat(timespec="seconds"),
    }
    return _add_item(session, tip, "reward", payload, granularity)


def read_thread(session: Session, tip: Tip, tip_key: PrivateKey) -> Thread:
    """Open the conversation, files and reward decision of a tip, oldest first.

    Raises SealError if any item does not open: the caller decides what to show."""
    items = session.scalars(
        select(SealedItem)
        .where(
            SealedItem.tip_id == tip.id, SealedItem.kind.in_(("message", "attachment", "reward"))
        )
        .order_by(SealedItem.id)
    ).all()
    messages: list[Message] = []
    files: list[FileInfo] = []
    reward: RewardDecision | None = None
    for item in items:
        if item.ciphertext is None:
            raise SealError("a sealed item without its ciphertext")
        data = json.loads(
            h.open_tip_item(tip_key, tip.reference, item.kind, item.item_key, item.ciphertext)
        )
        if item.kind == "message":
            messages.append(Message(data["author"], data["text"], data["sent_at"]))
        elif item.kind == "attachment":
            files.append(FileInfo(item.item_key, data["name"], data["type"], data["size"]))
        else:
            reward = RewardDecision(data["decision"], data["note"], data["decided_at"])
    return Thread(messages, files, reward)
