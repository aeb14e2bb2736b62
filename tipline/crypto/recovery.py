"""The organisation's recovery keypair: public half in ``keys/``, private half offline.

The private half is printed once as text (for paper or a password manager) and read back
only by the commands that need it (granting the first member of a unit, recovery).
"""

from __future__ import annotations

import base64
from pathlib import Path

from tipline.crypto.errors import CryptoError
from tipline.crypto.keys import PrivateKey, PublicKey, load_private_key, load_public_key

PUBLIC_FILE = "recovery.pub"
_PUBLIC_TAG = "tipline-recovery-public-v1"
_PRIVATE_TAG = "TIPLINE-RECOVERY-PRIVATE-KEY-V1"


def encode_public(key: PublicKey) -> str:
    return f"{_PUBLIC_TAG} {base64.b64encode(key.raw).decode()}\n"


def encode_private(key: PrivateKey) -> str:
    return f"{_PRIVATE_TAG}:{base64.b32encode(key.raw).decode().rstrip('=')}"


def decode_private(text: str) -> PrivateKey:
    text = "".join(text.split())
    tag, _, body = text.partition(":")
    if tag != _PRIVATE_TAG or not body:
        raise CryptoError(f"not a recovery private key (expected it to start with {_PRIVATE_TAG}:)")
    try:
        raw = base64.b32decode(body.upper() + "=" * (-len(body) % 8))
    except ValueError as exc:
        raise CryptoError("recovery private key is damaged (not base32)") from exc
    return load_private_key(raw)


def read_public(keys_dir: Path) -> PublicKey:
    path = keys_dir / PUBLIC_FILE
    if not path.exists():
        raise CryptoError(f"no recovery public key at {path}: run `tipline keys init` first")
    tag, _, body = path.read_text().strip().partition(" ")
    if tag != _PUBLIC_TAG:
        raise CryptoError(f"{path} is not a tipline recovery public key")
    try:
        return load_public_key(base64.b64decode(body, validate=True))
    except ValueError as exc:
        raise CryptoError(f"{path} is damaged") from exc


def write_public(keys_dir: Path, key: PublicKey) -> Path:
    keys_dir.mkdir(parents=True, exist_ok=True)
    path = keys_dir / PUBLIC_FILE
    path.write_text(encode_public(key))
    return path
