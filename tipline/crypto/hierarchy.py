"""The key hierarchy as named operations: recovery → unit → tip, and staff → unit.

Each operation fixes the seal context, so callers cannot get a context wrong and a
ciphertext stays bound to the row it was made for (DESIGN.md, "Keys").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import BinaryIO

from tipline.crypto.keys import (
    PrivateKey,
    PublicKey,
    generate_private_key,
    load_private_key,
    load_public_key,
)
from tipline.crypto.locks import KdfProfile, lock_with_password, unlock_with_password
from tipline.crypto.sealing import Context, open_sealed, seal
from tipline.crypto.streams import open_stream, seal_stream

RECOVERY_HOLDER = "recovery"
TIPSTER_HOLDER = "tipster"  # the web tipster's passphrase-derived key


@lru_cache(maxsize=512)
def _public(raw: bytes) -> PublicKey:
    # Unit, recovery and staff public keys are sealed to over and over; parse each once.
    return load_public_key(raw)


def unit_holder(slug: str) -> str:
    return f"unit:{slug}"


@dataclass(frozen=True)
class NewUnitKey:
    private_key: PrivateKey
    public_raw: bytes
    sealed_for_recovery: bytes


def create_unit_key(slug: str, version: int, recovery: PublicKey) -> NewUnitKey:
    key = generate_private_key()
    sealed = seal(
        recovery, key.raw, Context("unit-key", unit_holder(slug), RECOVERY_HOLDER, version)
    )
    return NewUnitKey(key, key.public_key.raw, sealed)


def open_unit_key_with_recovery(
    recovery: PrivateKey, sealed: bytes, slug: str, version: int
) -> PrivateKey:
    context = Context("unit-key", unit_holder(slug), RECOVERY_HOLDER, version)
    return load_private_key(open_sealed(recovery, sealed, context))


def seal_unit_key_for_staff(
    unit_key: PrivateKey, slug: str, version: int, staff_id: int, staff_public: bytes
) -> bytes:
    context = Context("unit-key", unit_holder(slug), f"staff:{staff_id}", version)
    return seal(_public(staff_public), unit_key.raw, context)


def open_unit_key_for_staff(
    staff_key: PrivateKey, sealed: bytes, slug: str, version: int, staff_id: int
) -> PrivateKey:
    context = Context("unit-key", unit_holder(slug), f"staff:{staff_id}", version)
    return load_private_key(open_sealed(staff_key, sealed, context))


@dataclass(frozen=True)
class NewStaffKey:
    private_key: PrivateKey
    public_raw: bytes
    locked: bytes


def staff_lock_label(staff_id: int) -> str:
    return f"staff-key:{staff_id}"


def create_staff_key(staff_id: int, password: str, profile: KdfProfile) -> NewStaffKey:
    key = generate_private_key()
    locked = lock_with_password(key.raw, password, profile, staff_lock_label(staff_id))
    return NewStaffKey(key, key.public_key.raw, locked)


def relock_staff_key(
    staff_key: PrivateKey, staff_id: int, password: str, profile: KdfProfile
) -> bytes:
    return lock_with_password(staff_key.raw, password, profile, staff_lock_label(staff_id))


def unlock_staff_key(locked: bytes, staff_id: int, password: str) -> PrivateKey:
    """Raises WrongPassword when the password does not open the key."""
    return load_private_key(unlock_with_password(locked, password, staff_lock_label(staff_id)))


def seal_staff_secret(staff_public: bytes, staff_id: int, name: str, secret: bytes) -> bytes:
    return seal(_public(staff_public), secret, Context("staff-secret", str(staff_id), name))


def open_staff_secret(staff_key: PrivateKey, staff_id: int, name: str, sealed: bytes) -> bytes:
    return open_sealed(staff_key, sealed, Context("staff-secret", str(staff_id), name))


def new_tip_key() -> PrivateKey:
    return generate_private_key()


def seal_tip_key(
    tip_key: PrivateKey, reference: str, holder: str, holder_version: int, holder_public: bytes
) -> bytes:
    context = Context("tip-key", reference, holder, holder_version)
    return seal(_public(holder_public), tip_key.raw, context)


def open_tip_key(
    holder_key: PrivateKey, sealed: bytes, reference: str, holder: str, holder_version: int
) -> PrivateKey:
    context = Context("tip-key", reference, holder, holder_version)
    return load_private_key(open_sealed(holder_key, sealed, context))


def item_context(reference: str, kind: str, item_key: str) -> Context:
    # "tip-item:" keeps item kinds apart from "tip-key" whatever the kind is called.
    return Context(f"tip-item:{kind}", reference, item_key)


def seal_tip_item(
    tip_public: bytes, reference: str, kind: str, item_key: str, plaintext: bytes
) -> bytes:
    return seal(load_public_key(tip_public), plaintext, item_context(reference, kind, item_key))


def open_tip_item(
    tip_key: PrivateKey, reference: str, kind: str, item_key: str, ciphertext: bytes
) -> bytes:
    return open_sealed(tip_key, ciphertext, item_context(reference, kind, item_key))


def _stream_context(reference: str, kind: str, item_key: str) -> Context:
    return item_context(reference, kind, item_key).derive("content")


def seal_tip_stream(
    tip_public: bytes, reference: str, kind: str, item_key: str, src: BinaryIO, dst: BinaryIO
) -> int:
    """Seal a file's bytes to the tip key in chunks; returns the plaintext size."""
    return seal_stream(
        load_public_key(tip_public), src, dst, _stream_context(reference, kind, item_key)
    )


def open_tip_stream(
    tip_key: PrivateKey, reference: str, kind: str, item_key: str, src: BinaryIO, dst: BinaryIO
) -> int:
    """Open a sealed file; on SealError, what reached ``dst`` must be discarded."""
    return open_stream(tip_key, src, dst, _stream_context(reference, kind, item_key))
