"""AES-256-GCM for the few places that use a symmetric key (sessions, locked keys)."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tipline.crypto.errors import SealError

KEY_SIZE = 32
_NONCE = 12


def random_key() -> bytes:
    return os.urandom(KEY_SIZE)


def aead_encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def aead_decrypt(key: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    if len(ciphertext) < _NONCE + 16:
        raise SealError("ciphertext too short")
    try:
        return AESGCM(key).decrypt(ciphertext[:_NONCE], ciphertext[_NONCE:], aad)
    except InvalidTag as exc:
        raise SealError("ciphertext did not authenticate") from exc
