"""Private keys locked under a password with Argon2id (staff keys).

The lock is self-describing (salt and cost parameters travel with it) so costs can be
raised later and old locks still open; the caller rehashes on the next login. The cost
parameters are bounded when read, so a tampered row cannot stall sign-ins.

Layout: magic(4) | salt(16) | t(1) | m KiB(4) | p(1) | AES-256-GCM(nonce | ct | tag).
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass

from argon2.exceptions import HashingError
from argon2.low_level import Type, hash_secret_raw

from tipline.crypto.errors import SealError, WrongPassword
from tipline.crypto.symmetric import aead_decrypt, aead_encrypt

_MAGIC = b"TLK2"
_SALT = 16
_HEADER = len(_MAGIC) + _SALT + 1 + 4 + 1
_MIN_BODY = 12 + 16


@dataclass(frozen=True)
class KdfProfile:
    time_cost: int = 3
    memory_cost: int = 64 * 1024  # KiB
    parallelism: int = 2

    def __post_init__(self) -> None:
        if not (
            1 <= self.time_cost <= 10
            # 1 MiB floor: the tipster passphrase profile (tipster.py) is that light on
            # purpose; staff locks use the default. The ceiling stops a tampered row
            # from stalling sign-ins.
            and 1024 <= self.memory_cost <= 1024 * 1024
            and 1 <= self.parallelism <= 8
        ):
            raise ValueError("Argon2id cost parameters out of the accepted range")

    @classmethod
    def for_tests(cls) -> KdfProfile:
        return cls(time_cost=1, memory_cost=8 * 1024, parallelism=1)


def stretch(password: str, salt: bytes, profile: KdfProfile) -> bytes:
    """Argon2id of a password or passphrase: the one place that calls it."""
    # NFC: the same password typed on two devices may arrive composed or decomposed.
    secret = unicodedata.normalize("NFC", password).encode("utf-8")
    return hash_secret_raw(
        secret,
        salt,
        time_cost=profile.time_cost,
        memory_cost=profile.memory_cost,
        parallelism=profile.parallelism,
        hash_len=32,
        type=Type.ID,
    )


def _aad(label: str, header: bytes) -> bytes:
    encoded = label.encode("utf-8")
    return len(encoded).to_bytes(2, "big") + encoded + header


def lock_with_password(secret: bytes, password: str, profile: KdfProfile, label: str) -> bytes:
    """Encrypt ``secret`` under Argon2id(password); ``label`` binds what it is for."""
    salt = os.urandom(_SALT)
    header = (
        _MAGIC
        + salt
        + profile.time_cost.to_bytes(1, "big")
        + profile.memory_cost.to_bytes(4, "big")
        + profile.parallelism.to_bytes(1, "big")
    )
    key = stretch(password, salt, profile)
    return header + aead_encrypt(key, secret, _aad(label, header))


def lock_profile(blob: bytes) -> KdfProfile:
    """The cost parameters of a lock; raises WrongPassword if the lock is malformed."""
    if len(blob) < _HEADER + _MIN_BODY or not blob.startswith(_MAGIC):
        raise WrongPassword("not a password-locked key")
    at = len(_MAGIC) + _SALT
    try:
        return KdfProfile(
            time_cost=blob[at],
            memory_cost=int.from_bytes(blob[at + 1 : at + 5], "big"),
            parallelism=blob[at + 5],
        )
    except ValueError as exc:
        raise WrongPassword("password lock has impossible cost parameters") from exc


def unlock_with_password(blob: bytes, password: str, label: str) -> bytes:
    profile = lock_profile(blob)
    salt = blob[len(_MAGIC) : len(_MAGIC) + _SALT]
    try:
        key = stretch(password, salt, profile)
        return aead_decrypt(key, blob[_HEADER:], _aad(label, blob[:_HEADER]))
    except (SealError, HashingError) as exc:
        raise WrongPassword("wrong password") from exc
