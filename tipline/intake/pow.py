"""Optional proof of work: a browser with JavaScript may pay for a tip in CPU time; a
paid tip counts against a separate, larger allowance instead of the connection's
ordinary rate limit (paying does not buy unlimited tips: native code solves 16 bits in
about a millisecond). A tipster without JavaScript (Tor Browser "safest") is never asked
for it and never blocked by it.

The challenge is stateless (random, a timestamp and the difficulty, under an HMAC of the
service secret); a solved challenge is spent once, by a Redis key that holds a hash of
the challenge only. Nothing in it relates to the tipster.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

VERSION = "p1"
MAX_AGE = 2 * 3600  # a form left open this long gets counted normally
MAX_BITS = 24


def _mac(secret_key: bytes, body: str) -> str:
    key = hmac.new(secret_key, b"tipline/proof-of-work", hashlib.sha256).digest()
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32]


def new_challenge(secret_key: bytes, bits: int, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    body = f"{VERSION}.{issued}.{secrets.token_hex(16)}.{bits}"
    return f"{body}.{_mac(secret_key, body)}"


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def solve(challenge: str, bits: int) -> str:
    """Find a nonce (what the browser's pow.js does; here for tests and tools)."""
    nonce = 0
    while leading_zero_bits(hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()) < bits:
        nonce += 1
    return str(nonce)


def verify(secret_key: bytes, challenge: str, nonce: str, now: float | None = None) -> bool:
    """True for an authentic, fresh challenge and a nonce that solves it."""
    parts = challenge.split(".")
    if len(parts) != 5 or parts[0] != VERSION or len(nonce) > 20 or not nonce.isdigit():
        return False
    body, mac = ".".join(parts[:4]), parts[4]
    if not hmac.compare_digest(mac, _mac(secret_key, body)):
        return False
    try:
        issued, bits = int(parts[1]), int(parts[3])
    except ValueError:
        return False
    age = (time.time() if now is None else now) - issued
    if not (-60 <= age <= MAX_AGE and 1 <= bits <= MAX_BITS):
        return False
    digest = hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()
    return leading_zero_bits(digest) >= bits


def issued_at(challenge: str) -> int:
    """When a challenge (already verified) was issued."""
    return int(challenge.split(".")[1])


def spent_key(challenge: str) -> str:
    return hashlib.sha256(challenge.encode()).hexdigest()
