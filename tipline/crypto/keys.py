"""Hybrid post-quantum keypairs (ML-KEM-768 + X25519) and their byte encodings.

``cryptography`` offers no serialisation for its hybrid HPKE key objects, so a key here
is a small value object that keeps its component encodings next to the HPKE object.
The private encoding (ML-KEM seed + X25519 scalar) must only ever be written sealed or
password-locked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from tipline.crypto.errors import CryptoError

_FORMAT = b"\x01"  # 0x01 = ML-KEM-768 + X25519; a new suite gets a new tag
_MLKEM_SEED = 64
_MLKEM_PUBLIC = 1184
_X25519 = 32
PRIVATE_KEY_SIZE = 1 + _MLKEM_SEED + _X25519
PUBLIC_KEY_SIZE = 1 + _MLKEM_PUBLIC + _X25519


@dataclass(frozen=True, repr=False)
class PublicKey:
    raw: bytes
    hpke_key: hpke.MLKEM768X25519PublicKey = field(compare=False)

    def __bytes__(self) -> bytes:
        return self.raw

    def __repr__(self) -> str:
        return f"PublicKey({self.raw[1:9].hex()}…)"


@dataclass(frozen=True, repr=False)
class PrivateKey:
    raw: bytes = field(compare=False)
    hpke_key: hpke.MLKEM768X25519PrivateKey = field(compare=False)
    public_key: PublicKey

    def __bytes__(self) -> bytes:
        return self.raw

    def __repr__(self) -> str:  # never print key material
        return f"PrivateKey(public={self.public_key!r})"


def generate_private_key() -> PrivateKey:
    return load_private_key(_FORMAT + os.urandom(_MLKEM_SEED) + os.urandom(_X25519))


def load_private_key(data: bytes) -> PrivateKey:
    data = bytes(data)
    if len(data) != PRIVATE_KEY_SIZE or data[:1] != _FORMAT:
        raise CryptoError("not a tipline private key")
    try:
        ml = mlkem.MLKEM768PrivateKey.from_seed_bytes(data[1 : 1 + _MLKEM_SEED])
        xk = x25519.X25519PrivateKey.from_private_bytes(data[1 + _MLKEM_SEED :])
    except ValueError as exc:
        raise CryptoError("not a tipline private key") from exc
    public_raw = _FORMAT + ml.public_key().public_bytes_raw() + xk.public_key().public_bytes_raw()
    return PrivateKey(
        raw=data,
        hpke_key=hpke.MLKEM768X25519PrivateKey(ml, xk),
        public_key=load_public_key(public_raw),
    )


def private_key_from_seed(seed: bytes) -> PrivateKey:
    """The keypair determined by 96 secret bytes (ML-KEM seed + X25519 scalar)."""
    if len(seed) != _MLKEM_SEED + _X25519:
        raise CryptoError("a key seed is 96 bytes")
    return load_private_key(_FORMAT + bytes(seed))


def load_public_key(data: bytes) -> PublicKey:
    data = bytes(data)
    if len(data) != PUBLIC_KEY_SIZE or data[:1] != _FORMAT:
        raise CryptoError("not a tipline public key")
    if data[1 + _MLKEM_PUBLIC :] == bytes(_X25519):
        raise CryptoError("not a tipline public key (degenerate X25519 share)")
    try:
        ml = mlkem.MLKEM768PublicKey.from_public_bytes(data[1 : 1 + _MLKEM_PUBLIC])
        xk = x25519.X25519PublicKey.from_public_bytes(data[1 + _MLKEM_PUBLIC :])
    except ValueError as exc:
        raise CryptoError("not a tipline public key") from exc
    return PublicKey(raw=data, hpke_key=hpke.MLKEM768X25519PublicKey(ml, xk))


def private_key_bytes(key: PrivateKey) -> bytes:
    return key.raw


def public_key_bytes(key: PrivateKey | PublicKey) -> bytes:
    return key.public_key.raw if isinstance(key, PrivateKey) else key.raw
