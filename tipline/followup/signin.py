"""Follow-up sign-in: reference + passphrase → the tip key, in a session of its own.

Failed attempts are counted per reference (an HMAC of it, in Redis), never per address;
a second, coarser limit per connection bucket comes from the rate limiter on the route.
Every attempt pays the same Argon2id derivation, whether or not the reference exists.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline import sessions
from tipline.crypto import PrivateKey, SealError, load_private_key, tipster
from tipline.crypto import hierarchy as h
from tipline.errors import TiplineError, Unauthorized
from tipline.i18n import _l
from tipline.models import Tip, TipKeyGrant
from tipline.runtime import Runtime

MAX_FAILURES = 10
FAILURE_WINDOW = 15 * 60
COOKIE = "tipline_followup"
KIND = "followup-session"
# However active, a follow-up session ends this long after sign-in.
ABSOLUTE_LIFETIME = 2 * 3600


class TooManyAttempts(TiplineError):
    status = 429
    code = "rate_limited"


def _not_right() -> Unauthorized:
    return Unauthorized(
        _l("The reference or the passphrase is not right. Check them and try again."),
        field="reference",
    )


def normalize_reference(reference: str) -> str:
    """What the tipster meant: case, spaces, dashes and a leading # do not matter."""
    return re.sub(r"[\s#-]", "", reference).upper()[:32]


def _failure_key(runtime: Runtime, reference: str) -> str:
    digest = hmac.new(
        runtime.settings.secret_key, b"followup/" + reference.encode(), hashlib.sha256
    ).hexdigest()
    return runtime.key("followup-failures", digest)


@dataclass(frozen=True)
class TipsterSession:
    tip_id: int
    tip_key: PrivateKey


def sign_in(session: Session, runtime: Runtime, reference: str, passphrase: str) -> TipsterSession:
    """The tip and its key for a right reference + passphrase, else Unauthorized (the
    same answer whether the reference exists or not) or TooManyAttempts."""
    reference = normalize_reference(reference)
    if not reference or not passphrase.strip():
        raise Unauthorized(
            _l("Please enter your tip reference and your passphrase."), field="reference"
        )
    failures = _failure_key(runtime, reference)
    # Count first, then check: parallel guesses cannot slip past the limit together.
    # A fixed window from the first failure: refused attempts do not extend it, so nobody
    # can keep a tipster locked out by trying once every few minutes.
    pipe = runtime.redis.pipeline()
    pipe.set(failures, 0, nx=True, ex=FAILURE_WINDOW)
    pipe.incr(failures)
    if pipe.execute()[1] > MAX_FAILURES:
        raise TooManyAttempts(
            _l("Too many attempts for this reference. Please wait 15 minutes and try again."),
            field="reference",
        )
    derived = tipster.derive(passphrase, runtime.settings.pepper)
    tip = session.scalars(select(Tip).where(Tip.tipster_lookup == derived.lookup_id)).first()
    if tip is None or not hmac.compare_digest(tip.reference.encode(), reference.encode()):
        raise _not_right()
    grant = session.scalars(
        select(TipKeyGrant).where(
            TipKeyGrant.tip_id == tip.id, TipKeyGrant.holder == h.TIPSTER_HOLDER
        )
    ).first()
    if grant is None:
        raise _not_right()
    try:
        tip_key = h.open_tip_key(
            derived.key, grant.sealed_key, tip.reference, grant.holder, grant.holder_version
        )
    except SealError:
        raise _not_right() from None
    runtime.redis.delete(failures)
    return TipsterSession(tip.id, tip_key)


def cookie_name(runtime: Runtime) -> str:
    return sessions.cookie_name(runtime, COOKIE)


def _idle(runtime: Runtime) -> int:
    return runtime.settings.followup_session_minutes * 60


def open_session(runtime: Runtime, signed_in: TipsterSession) -> str:
    payload = signed_in.tip_id.to_bytes(8, "big") + signed_in.tip_key.raw
    return sessions.open_session(runtime, KIND, payload, _idle(runtime))


def load_session(runtime: Runtime, cookie: str | None) -> TipsterSession | None:
    payload = sessions.load_session(runtime, KIND, cookie, _idle(runtime), ABSOLUTE_LIFETIME)
    if payload is None:
        return None
    return TipsterSession(int.from_bytes(payload[:8], "big"), load_private_key(payload[8:]))


def close_session(runtime: Runtime, cookie: str | None) -> None:
    sessions.close_session(runtime, KIND, cookie)
