"""The live SMS conversation, in Redis under the number's pseudonym, with a TTL.

The state is sealed under a key only the number itself (with the pepper) derives, so a
copy of Redis does not link a pseudonym to a tip. While the menu is open the state also
holds the tip private key, to seal it to the units the answers route to; it is dropped
as soon as the tip is routed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from tipline.crypto import SealError, aead_decrypt, aead_encrypt, relay
from tipline.runtime import Runtime

ASK_CATEGORY = "category"
ASK_ZONE = "zone"
OPEN = "open"  # routed; further texts are added to the tip
FINISHED = "finished"  # DONE: still added to the tip (answers to questions); NEW starts anew
NEW = "new"  # only a language chosen, no tip yet


@dataclass
class Conversation:
    step: str
    lang: str
    tip_id: int | None = None
    reference: str | None = None
    category: str | None = None
    urgent: bool = False
    tip_key: str | None = None  # hex, only while the menu is open


def _key(runtime: Runtime, number: str) -> str:
    return runtime.key("sms", relay.pseudonym(runtime.settings.pepper, number))


def load(runtime: Runtime, number: str) -> Conversation | None:
    sealed = runtime.redis.get(_key(runtime, number))
    if sealed is None:
        return None
    try:
        plain = aead_decrypt(relay.state_key(runtime.settings.pepper, number), sealed, b"sms-state")
    except SealError:
        return None
    return Conversation(**json.loads(plain))


def save(runtime: Runtime, number: str, conversation: Conversation) -> None:
    sealed = aead_encrypt(
        relay.state_key(runtime.settings.pepper, number),
        json.dumps(asdict(conversation)).encode(),
        b"sms-state",
    )
    runtime.redis.set(
        _key(runtime, number), sealed, ex=runtime.settings.sms_conversation_days * 86400
    )


def forget(runtime: Runtime, number: str) -> None:
    runtime.redis.delete(_key(runtime, number))


def _stopped_key(runtime: Runtime, number: str) -> str:
    return runtime.key("sms-stopped", relay.pseudonym(runtime.settings.pepper, number))


def mark_stopped(runtime: Runtime, number: str) -> None:
    """Remember a STOP for as long as any reply handle could live: the worker checks it
    before every text, so a STOP holds even if the database was down when it came."""
    runtime.redis.set(
        _stopped_key(runtime, number), b"1", ex=runtime.settings.sms_conversation_days * 86400
    )


def clear_stopped(runtime: Runtime, number: str) -> None:
    runtime.redis.delete(_stopped_key(runtime, number))


def is_stopped(runtime: Runtime, number: str) -> bool:
    return bool(runtime.redis.exists(_stopped_key(runtime, number)))
