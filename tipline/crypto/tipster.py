"""The web tipster's passphrase and what it derives.

A tipster gets a reference and a 7-word passphrase from the EFF large wordlist
(7 × log2(7776) ≈ 90.5 bits). One Argon2id pass over the normalised passphrase, salted
with the service pepper (never in the database), is expanded with HKDF into two
independent outputs: a lookup id (stored, to find the tip's grant) and the seed of the
tipster's keypair (never stored; the tip key is sealed to its public half). A stolen
database without the pepper gives nothing to test guesses against.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tipline.crypto.keys import PrivateKey, private_key_from_seed
from tipline.crypto.locks import KdfProfile, stretch

WORDS = 7
# Argon2id cost for passphrases: light on purpose (2 MiB, one pass: ≈1 ms). The
# passphrase carries ~90 bits and the salt is a secret pepper, so a heavier cost would
# add nothing a guesser could notice, while intake pays it for every tip (at 64 MiB it
# would cut intake throughput several-fold). Changing it changes every lookup id: a new
# profile needs a new derivation label, not an edit here.
PASSPHRASE_PROFILE = KdfProfile(time_cost=1, memory_cost=2 * 1024, parallelism=1)


@lru_cache(maxsize=1)
def wordlist() -> tuple[str, ...]:
    text = resources.files("tipline.data").joinpath("eff_large_wordlist.txt").read_text("utf-8")
    words = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(words) != 7776 or len(set(words)) != 7776:
        raise RuntimeError("the shipped wordlist is damaged: expected 7776 distinct words")
    return words


def new_passphrase(words: int = WORDS) -> str:
    pool = wordlist()
    return " ".join(secrets.choice(pool) for _ in range(words))


def normalize(passphrase: str) -> str:
    """What the tipster meant: case, accents' encoding and spacing do not matter."""
    return " ".join(unicodedata.normalize("NFC", passphrase).lower().split())


@dataclass(frozen=True)
class TipsterSecrets:
    lookup_id: str = field(repr=False)
    key: PrivateKey


def derive(
    passphrase: str, pepper: bytes, profile: KdfProfile = PASSPHRASE_PROFILE
) -> TipsterSecrets:
    salt = hashlib.sha256(b"tipline/tipster/v1" + pepper).digest()
    stretched = stretch(normalize(passphrase), salt, profile)
    lookup = HKDF(hashes.SHA256(), 32, salt=None, info=b"tipline/tipster/lookup").derive(stretched)
    seed = HKDF(hashes.SHA256(), 96, salt=None, info=b"tipline/tipster/key").derive(stretched)
    return TipsterSecrets(lookup.hex(), private_key_from_seed(seed))
