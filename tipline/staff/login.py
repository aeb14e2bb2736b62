"""Staff sign-in: password, then TOTP, then the unlocked staff key goes to a session.

Failed attempts are counted per account (an HMAC of the email) in Redis, never per IP.
"""

from __future__ import annotations

import hashlib
import hmac

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline import audit
from tipline.crypto import PrivateKey
from tipline.crypto import hierarchy as h
from tipline.errors import Unauthorized
from tipline.keyring import KeyringError, unlock_staff, verify_password
from tipline.models import Staff
from tipline.runtime import Runtime

MAX_FAILURES = 10
FAILURE_WINDOW = 15 * 60
_GENERIC = "Email, password or code is not right."


def _failure_key(runtime: Runtime, email: str) -> str:
    digest = hmac.new(runtime.settings.secret_key, email.encode(), hashlib.sha256).hexdigest()
    return runtime.key("login-failures", digest)


def authenticate(
    session: Session, runtime: Runtime, email: str, password: str, code: str
) -> tuple[Staff, PrivateKey]:
    email = email.strip().lower()
    failures = _failure_key(runtime, email)
    if int(runtime.redis.get(failures) or 0) >= MAX_FAILURES:
        raise Unauthorized("Too many failed sign-ins for this account. Wait 15 minutes.")
    staff = session.scalars(
        select(Staff).where(Staff.email == email, Staff.active.is_(True))
    ).first()
    try:
        if staff is None or not verify_password(session, staff, password, runtime.settings.kdf):
            raise Unauthorized(_GENERIC)
        staff_key = unlock_staff(staff, password)
        secret = h.open_staff_secret(staff_key, staff.id, "totp", staff.sealed_totp_secret).decode()
        counter = _valid_counter(pyotp.TOTP(secret), code.strip())
        # Replay guard: a code (or an earlier one) that was already used is refused.
        if counter is None or counter <= staff.totp_last_counter:
            raise Unauthorized(_GENERIC)
    except (Unauthorized, KeyringError):
        pipe = runtime.redis.pipeline()
        pipe.incr(failures)
        pipe.expire(failures, FAILURE_WINDOW)
        pipe.execute()
        raise Unauthorized(_GENERIC) from None
    staff.totp_last_counter = counter
    runtime.redis.delete(failures)
    audit.record(session, f"staff:{staff.id}", "staff.sign_in")
    return staff, staff_key


def _valid_counter(totp: pyotp.TOTP, code: str) -> int | None:
    """The time step the code belongs to (allowing one step of clock drift), or None."""
    if not code.isdigit():
        return None
    import time

    now_counter = int(time.time()) // totp.interval
    for counter in (now_counter, now_counter - 1, now_counter + 1):
        if hmac.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None
