"""Server-side staff sessions in Redis, readable only with the browser's cookie.

Redis holds the unlocked staff key encrypted under a session key that exists only in the
cookie; the Redis key is a hash of the session id. A copy of Redis alone opens nothing,
and a stolen cookie dies with the session (inactivity timeout, logout).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass

from tipline.crypto import PrivateKey, SealError, aead_decrypt, aead_encrypt, load_private_key
from tipline.runtime import Runtime

COOKIE = "tipline_staff"


def cookie_name(runtime: Runtime) -> str:
    # Over HTTPS the __Host- prefix makes the browser refuse the cookie unless it is
    # Secure, for this exact host and Path=/ (no subdomain can plant or read it).
    return f"__Host-{COOKIE}" if runtime.settings.secure_cookies else COOKIE


# However active, a session ends this long after sign-in.
ABSOLUTE_LIFETIME = 12 * 3600


@dataclass(frozen=True)
class StaffSession:
    staff_id: int
    staff_key: PrivateKey


def _redis_key(runtime: Runtime, session_id: bytes) -> str:
    return runtime.key("staff-session", hashlib.sha256(session_id).hexdigest())


def open_session(runtime: Runtime, staff_id: int, staff_key: PrivateKey) -> str:
    """Store a new session; returns the cookie value (session id + session key)."""
    session_id = secrets.token_bytes(24)
    session_key = secrets.token_bytes(32)
    payload = staff_id.to_bytes(8, "big") + int(time.time()).to_bytes(8, "big") + staff_key.raw
    sealed = aead_encrypt(session_key, payload, session_id)
    ttl = runtime.settings.staff_session_minutes * 60
    runtime.redis.set(_redis_key(runtime, session_id), sealed, ex=ttl)
    return base64.urlsafe_b64encode(session_id + session_key).decode().rstrip("=")


def _split(cookie: str) -> tuple[bytes, bytes] | None:
    try:
        raw = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
    except ValueError:
        return None
    if len(raw) != 56:
        return None
    return raw[:24], raw[24:]


def load_session(runtime: Runtime, cookie: str | None) -> StaffSession | None:
    """The session for this cookie, refreshing its inactivity timeout, or None."""
    if not cookie:
        return None
    parts = _split(cookie)
    if parts is None:
        return None
    session_id, session_key = parts
    key = _redis_key(runtime, session_id)
    sealed = runtime.redis.get(key)
    if sealed is None:
        return None
    try:
        payload = aead_decrypt(session_key, sealed, session_id)
    except SealError:
        return None
    if time.time() - int.from_bytes(payload[8:16], "big") > ABSOLUTE_LIFETIME:
        runtime.redis.delete(key)
        return None
    runtime.redis.expire(key, runtime.settings.staff_session_minutes * 60)
    return StaffSession(int.from_bytes(payload[:8], "big"), load_private_key(payload[16:]))


def close_session(runtime: Runtime, cookie: str | None) -> None:
    """Delete the server side of a session. Redis errors propagate: a sign-out that did
    not happen must not look as if it did."""
    parts = _split(cookie or "")
    if parts is not None:
        runtime.redis.delete(_redis_key(runtime, parts[0]))
