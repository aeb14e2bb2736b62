"""Staff sign-in: password, then TOTP, then the unlocked staff key goes to a session.

Failed attempts are counted per account (an HMAC of the email) in Redis, never per IP.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import time

import pyotp
from argon2.exceptions import VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tipline import audit
from tipline.crypto import PrivateKey
from tipline.crypto import hierarchy as h
from tipline.errors import Unauthorized
from tipline.keyring import KeyringError, password_hasher, unlock_staff, verify_password
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
    # Count first, then compare: parallel guesses cannot slip past the limit together.
    # A fixed window from the first failure: refused attempts do not extend it, so nobody
    # can keep an account locked out by trying once every few minutes.
    pipe = runtime.redis.pipeline()
    pipe.set(failures, 0, nx=True, ex=FAILURE_WINDOW)
    pipe.incr(failures)
    attempts = pipe.execute()[1]
    if attempts > MAX_FAILURES:
        raise Unauthorized("Too many failed sign-ins for this account. Wait 15 minutes.")
    staff = session.scalars(
        select(Staff).where(Staff.email == email, Staff.active.is_(True))
    ).first()
    try:
        if staff is None:
            # Spend the same Argon2 time as for a real account: no account enumeration.
            _burn_password_time(runtime, password)
            raise Unauthorized(_GENERIC)
        if not verify_password(session, staff, password, runtime.settings.kdf):
            raise Unauthorized(_GENERIC)
        staff_key = unlock_staff(staff, password)
        secret = h.open_staff_secret(staff_key, staff.id, "totp", staff.sealed_totp_secret).decode()
        counter = _valid_counter(pyotp.TOTP(secret), code.strip())
        if counter is None:
            raise Unauthorized(_GENERIC)
        # Replay guard: the conditional UPDATE lets exactly one sign-in use a time step
        # (or an earlier one), even when several race with the same code.
        used = session.execute(
            update(Staff)
            .where(Staff.id == staff.id, Staff.totp_last_counter < counter)
            .values(totp_last_counter=counter)
            .execution_options(synchronize_session=False)
        )
        if used.rowcount != 1:  # type: ignore[attr-defined]
            raise Unauthorized(_GENERIC)
    except (Unauthorized, KeyringError):
        raise Unauthorized(_GENERIC) from None
    runtime.redis.delete(failures)
    audit.record(session, f"staff:{staff.id}", "staff.sign_in")
    return staff, staff_key


_DUMMY_HASHES: dict[object, str] = {}


def _burn_password_time(runtime: Runtime, password: str) -> None:
    profile = runtime.settings.kdf
    hasher = password_hasher(profile)
    if profile not in _DUMMY_HASHES:
        _DUMMY_HASHES[profile] = hasher.hash("not a real account")
    with contextlib.suppress(VerificationError):
        hasher.verify(_DUMMY_HASHES[profile], password)


def _valid_counter(totp: pyotp.TOTP, code: str) -> int | None:
    """The time step the code belongs to (allowing one step of clock drift), or None."""
    if not code.isdigit():
        return None
    now_counter = int(time.time()) // totp.interval
    for counter in (now_counter, now_counter - 1, now_counter + 1):
        if hmac.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None
