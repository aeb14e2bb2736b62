"""One way to seal and open: HPKE base mode with the context bound as ``info``.

The context names where a ciphertext lives (item kind, owner such as a tip reference,
item id, key version). HPKE feeds ``info`` into the key schedule, so a ciphertext copied
to another row, another tip or another key version does not open.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke

from tipline.crypto.errors import SealError
from tipline.crypto.keys import PrivateKey, PublicKey

SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_DOMAIN = b"tipline/v1"


@dataclass(frozen=True)
class Context:
    """Where a ciphertext belongs. Every field is part of what the ciphertext proves."""

    kind: str  # "tip-body", "tip-key", "unit-key", "attachment", "message", ...
    owner: str  # a tip reference, a unit slug + version, a staff id
    item: str = ""  # the row within the owner (message id, attachment id)
    version: int = 1  # key version the ciphertext was made for

    def info(self) -> bytes:
        parts = [self.kind, self.owner, self.item, str(self.version)]
        # Length-prefix every part so ("a|b", "c") and ("a", "b|c") never collide.
        out = bytearray(_DOMAIN)
        for part in parts:
            encoded = part.encode("utf-8")
            out += len(encoded).to_bytes(2, "big") + encoded
        return bytes(out)


def seal(public_key: PublicKey, plaintext: bytes, context: Context) -> bytes:
    return SUITE.encrypt(plaintext, public_key.hpke_key, info=context.info())


def open_sealed(private_key: PrivateKey, ciphertext: bytes, context: Context) -> bytes:
    try:
        return SUITE.decrypt(ciphertext, private_key.hpke_key, info=context.info())
    except (InvalidTag, ValueError) as exc:
        raise SealError(f"cannot open {context.kind} for {context.owner}") from exc
