"""Private keys locked under a password with Argon2id (staff keys).

The lock is self-describing (salt and cost parameters travel with it) so costs can be
raised later and old locks still open; the caller rehashes on the next login.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw

from tipline.crypto.errors import SealError, WrongPassword
from tipline.crypto.symmetric import aead_decrypt, aead_encrypt

_MAGIC = b"TLK1"


@dataclass(frozen=True)
class KdfProfile:
    time_cost: int = 3
    memory_cost: int = 64 * 1024  # KiB
    parallelism: int = 2

    @classmethod
    def for_tests(cls) -> KdfProfile:
        return cls(time_cost=1, memory_cost=8 * 1024, parallelism=1)


def _derive(password: str, salt: bytes, profile: KdfProfile) -> bytes:
    return hash_secret_raw(
        password.encode("utf-8"),
        salt,
        time_cost=profile.time_cost,
        memory_cost=profile.memory_cost,
        parallelism=profile.parallelism,
        hash_len=32,
        type=Type.ID,
    )


def lock_with_password(secret: bytes, password: str, profile: KdfProfile, label: str) -> bytes:
    """Encrypt ``secret`` under Argon2id(password); ``label`` binds what it is for."""
    salt = os.urandom(16)
    header = json.dumps(
        {"t": profile.time_cost, "m": profile.memory_cost, "p": profile.parallelism},
        separators=(",", ":"),
    ).encode()
    key = _derive(password, salt, profile)
    aad = _MAGIC + label.encode() + salt + header
    body = aead_encrypt(key, secret, aad)
    return _MAGIC + salt + len(header).to_bytes(2, "big") + header + body


def lock_profile(blob: bytes) -> KdfProfile:
    salt_end = len(_MAGIC) + 16
    size = int.from_bytes(blob[salt_end : salt_end + 2], "big")
    params = json.loads(blob[salt_end + 2 : salt_end + 2 + size])
    return KdfProfile(time_cost=params["t"], memory_cost=params["m"], parallelism=params["p"])


def unlock_with_password(blob: bytes, password: str, label: str) -> bytes:
    if not blob.startswith(_MAGIC):
        raise WrongPassword("not a password-locked key")
    salt = blob[len(_MAGIC) : len(_MAGIC) + 16]
    salt_end = len(_MAGIC) + 16
    size = int.from_bytes(blob[salt_end : salt_end + 2], "big")
    header = blob[salt_end + 2 : salt_end + 2 + size]
    profile = lock_profile(blob)
    key = _derive(password, salt, profile)
    try:
        return aead_decrypt(
            key, blob[salt_end + 2 + size :], _MAGIC + label.encode() + salt + header
        )
    except SealError as exc:
        raise WrongPassword("wrong password") from exc
