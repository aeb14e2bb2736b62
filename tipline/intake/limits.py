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
from flask import current_app, request
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
    is paid for in CPU time and not counted. Anything else is counted as usual."""
    runtime = current_app.extensions["tipline"]
    challenge = request.form.get("pow_challenge", "")
    nonce = request.form.get("pow_nonce", "")
    if not (runtime.settings.pow_bits and challenge and nonce):
        return False
    if not proof.verify(runtime.settings.secret_key, challenge, nonce):
        return False
    try:
        # Spent once: the same solution sent again is counted like any other tip.
        key = runtime.key("pow-spent", proof.spent_key(challenge))
        return bool(runtime.redis.set(key, b"1", nx=True, ex=proof.MAX_AGE))
    except redis.RedisError:
        return False


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
