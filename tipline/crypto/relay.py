"""The SMS side of anonymity: pseudonyms and the sealed reply handle.

A phone number is the most identifying thing we touch. It is used, in memory, for:
- a **pseudonym** (HMAC under the pepper) that finds the live conversation in Redis;
- a **state key** (another HMAC under the pepper) that seals that conversation's state,
  so a Redis copy links no pseudonym to a tip without the number itself;
- the **reply handle**: the number sealed under the relay key (never in the database in
  clear, and the relay key never in the database), bound to the tip's reference, so the
  worker can text the tipster back. The handle is deleted when the conversation expires.
"""

from __future__ import annotations

import hashlib
import hmac

from tipline.crypto.errors import SealError
from tipline.crypto.symmetric import aead_decrypt, aead_encrypt


def _hmac(key: bytes, label: bytes, number: str) -> bytes:
    return hmac.new(key, label + b"\x00" + number.encode(), hashlib.sha256).digest()


def pseudonym(pepper: bytes, number: str) -> str:
    return _hmac(pepper, b"tipline/sms/pseudonym", number).hex()


def state_key(pepper: bytes, number: str) -> bytes:
    return _hmac(pepper, b"tipline/sms/state", number)


def _handle_key(relay_key: bytes) -> bytes:
    return hmac.new(relay_key, b"tipline/sms/reply-handle", hashlib.sha256).digest()


def seal_reply_handle(relay_key: bytes, reference: str, number: str) -> bytes:
    return aead_encrypt(
        _handle_key(relay_key), number.encode(), b"reply-handle:" + reference.encode()
    )


def open_reply_handle(relay_key: bytes, reference: str, sealed: bytes) -> str:
    """Raises SealError for another tip's handle or a wrong relay key."""
    plain = aead_decrypt(_handle_key(relay_key), sealed, b"reply-handle:" + reference.encode())
    return plain.decode()


def handle_is_for(relay_key: bytes, reference: str, sealed: bytes, number: str) -> bool:
    """Whether a sealed reply handle holds ``number`` (STOP deletes every handle of a
    number this way: the database keeps nothing that would find them directly)."""
    try:
        found = open_reply_handle(relay_key, reference, sealed)
    except SealError:
        return False
    return hmac.compare_digest(found.encode(), number.encode())


def _work_key(relay_key: bytes) -> bytes:
    return hmac.new(relay_key, b"tipline/outbox/payload", hashlib.sha256).digest()


def _work_context(job: str, tip_id: int | None) -> bytes:
    return f"outbox:{job}:{'' if tip_id is None else tip_id}".encode()


def seal_work(relay_key: bytes, job: str, tip_id: int | None, payload: bytes) -> bytes:
    """Seal what a queued job needs (a Twilio SID, media URLs, a reply's text) under the
    relay key, bound to the job name and the tip: the worker opens it, the database alone
    does not."""
    return aead_encrypt(_work_key(relay_key), payload, _work_context(job, tip_id))


def open_work(relay_key: bytes, job: str, tip_id: int | None, sealed: bytes) -> bytes:
    """Raises SealError for another job's or another tip's payload, or a wrong relay key."""
    return aead_decrypt(_work_key(relay_key), sealed, _work_context(job, tip_id))
