"""Staff sessions: the unlocked staff key, held in a sealed server-side session
(tipline/sessions.py) that only the browser's cookie opens."""

from __future__ import annotations

from dataclasses import dataclass

from tipline import sessions
from tipline.crypto import PrivateKey, load_private_key
from tipline.runtime import Runtime

COOKIE = "tipline_staff"
KIND = "staff-session"
# An API bearer token is the same sealed session under another kind: a token cannot be
# used as a cookie, nor a cookie as a token.
API_KIND = "api-token"
# However active, a session ends this long after sign-in.
ABSOLUTE_LIFETIME = 12 * 3600


def cookie_name(runtime: Runtime) -> str:
    return sessions.cookie_name(runtime, COOKIE)


@dataclass(frozen=True)
class StaffSession:
    staff_id: int
    staff_key: PrivateKey


def _idle(runtime: Runtime) -> int:
    return runtime.settings.staff_session_minutes * 60


def open_session(runtime: Runtime, staff_id: int, staff_key: PrivateKey, kind: str = KIND) -> str:
    """Store a new session; returns the cookie (or bearer token) value."""
    payload = staff_id.to_bytes(8, "big") + staff_key.raw
    return sessions.open_session(runtime, kind, payload, _idle(runtime))


def load_session(runtime: Runtime, cookie: str | None, kind: str = KIND) -> StaffSession | None:
    """The session for this cookie or token, refreshing its inactivity timeout, or None."""
    payload = sessions.load_session(runtime, kind, cookie, _idle(runtime), ABSOLUTE_LIFETIME)
    if payload is None:
        return None
    return StaffSession(int.from_bytes(payload[:8], "big"), load_private_key(payload[8:]))


def close_session(runtime: Runtime, cookie: str | None, kind: str = KIND) -> None:
    sessions.close_session(runtime, kind, cookie)


def idle_seconds(runtime: Runtime) -> int:
    return _idle(runtime)
