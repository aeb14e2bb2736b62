"""Server-side sessions in Redis that only the browser's cookie can open.

Redis holds the session's payload (an unlocked key) encrypted under a session key that
exists only in the cookie; the Redis key is a hash of the session id. A copy of Redis
alone opens nothing, and a stolen cookie dies with the session (inactivity timeout,
absolute lifetime, sign-out). Staff and tipster sessions differ only in their kind,
their timeouts and what the payload holds.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time

from tipline.crypto import SealError, aead_decrypt, aead_encrypt
from tipline.runtime import Runtime

_ID = 24
_KEY = 32


def cookie_name(runtime: Runtime, base: str) -> str:
    # Over HTTPS the __Host- prefix makes the browser refuse the cookie unless it is
    # Secure, for this exact host and Path=/ (no subdomain can plant or read it).
    return f"__Host-{base}" if runtime.settings.secure_cookies else base


def _redis_key(runtime: Runtime, kind: str, session_id: bytes) -> str:
    return runtime.key(kind, hashlib.sha256(session_id).hexdigest())


def open_session(runtime: Runtime, kind: str, payload: bytes, idle_seconds: int) -> str:
    """Store a new session; returns the cookie value (session id + session key)."""
    session_id = secrets.token_bytes(_ID)
    session_key = secrets.token_bytes(_KEY)
    stamped = int(time.time()).to_bytes(8, "big") + payload
    sealed = aead_encrypt(session_key, stamped, kind.encode() + session_id)
    runtime.redis.set(_redis_key(runtime, kind, session_id), sealed, ex=idle_seconds)
    return base64.urlsafe_b64encode(session_id + session_key).decode().rstrip("=")


def _split(cookie: str) -> tuple[bytes, bytes] | None:
    try:
        raw = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
    except ValueError:
        return None
    if len(raw) != _ID + _KEY:
        return None
    return raw[:_ID], raw[_ID:]


def load_session(
    runtime: Runtime, kind: str, cookie: str | None, idle_seconds: int, lifetime: int
) -> bytes | None:
    """The payload of the session for this cookie, refreshing its inactivity timeout."""
    parts = _split(cookie or "")
    if parts is None:
        return None
    session_id, session_key = parts
    key = _redis_key(runtime, kind, session_id)
    sealed = runtime.redis.get(key)
    if sealed is None:
        return None
    try:
        stamped = aead_decrypt(session_key, sealed, kind.encode() + session_id)
    except SealError:
        return None
    if time.time() - int.from_bytes(stamped[:8], "big") > lifetime:
        runtime.redis.delete(key)
        return None
    runtime.redis.expire(key, idle_seconds)
    return stamped[8:]


def close_session(runtime: Runtime, kind: str, cookie: str | None) -> None:
    """Delete the server side of a session. Redis errors propagate: a sign-out that did
    not happen must not look as if it did."""
    parts = _split(cookie or "")
    if parts is not None:
        runtime.redis.delete(_redis_key(runtime, kind, parts[0]))
