"""Every key and every ciphertext in Tipline goes through this package.

Nothing else imports ``cryptography`` directly: a reviewer who wants to know how a tip is
protected reads these few modules and nothing more.
"""

from tipline.crypto.errors import CryptoError, SealError, WrongPassword
from tipline.crypto.keys import (
    PrivateKey,
    PublicKey,
    generate_private_key,
    load_private_key,
    load_public_key,
    private_key_bytes,
    public_key_bytes,
)
from tipline.crypto.locks import KdfProfile, lock_with_password, unlock_with_password
from tipline.crypto.sealing import Context, open_sealed, seal
from tipline.crypto.streams import open_stream, seal_stream
from tipline.crypto.symmetric import aead_decrypt, aead_encrypt, random_key

__all__ = [
    "Context",
    "CryptoError",
    "KdfProfile",
    "PrivateKey",
    "PublicKey",
    "SealError",
    "WrongPassword",
    "aead_decrypt",
    "aead_encrypt",
    "generate_private_key",
    "load_private_key",
    "load_public_key",
    "lock_with_password",
    "open_sealed",
    "open_stream",
    "private_key_bytes",
    "public_key_bytes",
    "random_key",
    "seal",
    "seal_stream",
    "unlock_with_password",
]
