"""Rate limits for tipsters without tracking them.

The counter key is an HMAC of the client address under a secret derived from the
service secret and today's date: Redis holds only opaque keys that change every day, and
the derived secret is never stored with them. Behind a reverse proxy, set
TIPLINE_TRUSTED_PROXIES so the address is the client's, not the proxy's.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import redis
from flask import current_app, g, request
from flask_limiter import Limiter

from tipline.intake import pow as proof


def daily_secret(secret_key: bytes, day: str) -> bytes:
    return hmac.new(secret_key, b"rate-limit/" + day.encode(), hashlib.sha256).digest()


def client_bucket() -> str:
    settings = current_app.extensions["tipline"].settings
    secret = daily_secret(settings.secret_key, datetime.now(UTC).strftime("%Y-%m-%d"))
    # The address is used here, in memory, and never leaves this function in clear.
    address = (request.remote_addr or "").encode()
    return hmac.new(secret, address, hashlib.sha256).hexdigest()[:32]


def proof_of_work_paid() -> bool:
    """A solved, fresh, unspent challenge from the form (tipline/intake/pow.py): this tip
    counts against the paid allowance instead of the ordinary limit. Decided once per
    request (flask-limiter asks once per rate, and the first answer spends the challenge)."""
    if "pow_paid" not in g:
        g.pow_paid = _spend_proof_of_work()
    return bool(g.pow_paid)


def proof_of_work_unpaid() -> bool:
    return not proof_of_work_paid()


def _spend_proof_of_work() -> bool:
    runtime = current_app.extensions["tipline"]
    settings = runtime.settings
    challenge = request.form.get("pow_challenge", "")
    nonce = request.form.get("pow_nonce", "")
    if not (settings.pow_bits and challenge and nonce):
        return False
    if not proof.verify(settings.secret_key, challenge, nonce):
        return False
    # Spent once: the same solution sent again is counted like any other tip. The key
    # expires at the challenge's own end, rounded up to the time granularity, so its TTL
    # does not date the tip to the second.
    step = settings.time_granularity_minutes * 60
    expires = -(-(proof.issued_at(challenge) + proof.MAX_AGE) // step) * step
    key = runtime.key("pow-spent", proof.spent_key(challenge))
    try:
        pipe = runtime.redis.pipeline()
        pipe.set(key, b"1", nx=True)
        pipe.expireat(key, expires)
        return bool(pipe.execute()[0])
    except redis.RedisError:
        return False


def paid_tip_limit() -> str:
    return str(current_app.extensions["tipline"].settings.pow_tip_rate_limit)


def tip_limit() -> str:
    return str(current_app.extensions["tipline"].settings.tip_rate_limit)


limiter = Limiter(
    key_func=client_bucket,
    # A limiter that cannot reach Redis lets the tip through: refusing tips because the
    # counter is down would be worse than counting nothing for a while.
    swallow_errors=True,
    headers_enabled=False,
    strategy="fixed-window",
)
