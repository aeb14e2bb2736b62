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
_MAX_FIELD = 0xFFFF


@dataclass(frozen=True)
class Context:
    """Where a ciphertext belongs. Every field is part of what the ciphertext proves."""

    kind: str  # "tip-body", "tip-key", "unit-key", "attachment", "message", ...
    owner: str  # a tip reference, a unit slug + version, a staff id
    item: str = ""  # the row within the owner (message id, attachment id)
    version: int = 1  # key version the ciphertext was made for

    def __post_init__(self) -> None:
        for name in ("kind", "owner", "item"):
            value = getattr(self, name)
            if not isinstance(value, str) or len(value.encode("utf-8")) > _MAX_FIELD:
                raise ValueError(f"context {name} must be a string of at most {_MAX_FIELD} bytes")
        version = self.version
        if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version < 2**32:
            raise ValueError("context version must be an integer in [0, 2**32)")

    def info(self) -> bytes:
        # Length-prefix every part so ("a|b", "c") and ("a", "b|c") never collide, and
        # encode the version at a fixed width.
        out = bytearray(_DOMAIN)
        for part in (self.kind, self.owner, self.item):
            encoded = part.encode("utf-8")
            out += len(encoded).to_bytes(2, "big") + encoded
        out += self.version.to_bytes(4, "big")
        return bytes(out)

    def derive(self, suffix: str) -> Context:
        """A context for a sub-purpose of this one (e.g. the key of a stream)."""
        return Context(f"{self.kind}/{suffix}", self.owner, self.item, self.version)


def seal(public_key: PublicKey, plaintext: bytes, context: Context) -> bytes:
    try:
        return SUITE.encrypt(plaintext, public_key.hpke_key, info=context.info())
    except ValueError as exc:  # e.g. a degenerate X25519 share in a forged public key
        raise SealError(f"cannot seal {context.kind} to this key") from exc


def open_sealed(private_key: PrivateKey, ciphertext: bytes, context: Context) -> bytes:
    try:
        return SUITE.decrypt(ciphertext, private_key.hpke_key, info=context.info())
    except (InvalidTag, ValueError) as exc:
        raise SealError(f"cannot open {context.kind} for {context.owner}") from exc
