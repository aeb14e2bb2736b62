"""Keypairs: byte encodings, derivation of the public half, refusal of garbage, repr."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tipline.crypto import (
    Context,
    CryptoError,
    PrivateKey,
    load_private_key,
    load_public_key,
    open_sealed,
    private_key_bytes,
    public_key_bytes,
    seal,
)
from tipline.crypto.keys import PRIVATE_KEY_SIZE, PUBLIC_KEY_SIZE

SETTINGS = settings(max_examples=30, deadline=None, database=None)
CONTEXT = Context("test", "keys")


# --- encodings -----------------------------------------------------------------------


def test_sizes(key: PrivateKey) -> None:
    assert len(private_key_bytes(key)) == PRIVATE_KEY_SIZE == 1 + 64 + 32
    assert len(public_key_bytes(key)) == PUBLIC_KEY_SIZE == 1 + 1184 + 32


def test_private_round_trip_keeps_the_public_key(key: PrivateKey) -> None:
    raw = private_key_bytes(key)
    loaded = load_private_key(raw)
    assert private_key_bytes(loaded) == raw
    assert bytes(loaded) == raw
    assert loaded.public_key == key.public_key
    assert public_key_bytes(loaded) == public_key_bytes(key)
    assert loaded == key


def test_public_round_trip(key: PrivateKey) -> None:
    raw = public_key_bytes(key)
    assert public_key_bytes(key.public_key) == raw
    loaded = load_public_key(raw)
    assert loaded == key.public_key
    assert bytes(loaded) == raw


def test_loaded_keys_interoperate_with_the_originals(key: PrivateKey) -> None:
    private = load_private_key(private_key_bytes(key))
    public = load_public_key(public_key_bytes(key))
    assert open_sealed(key, seal(public, b"one", CONTEXT), CONTEXT) == b"one"
    assert open_sealed(private, seal(key.public_key, b"two", CONTEXT), CONTEXT) == b"two"


def test_generated_keys_differ(key: PrivateKey, other_key: PrivateKey) -> None:
    assert private_key_bytes(key) != private_key_bytes(other_key)
    assert public_key_bytes(key) != public_key_bytes(other_key)
    assert key.public_key != other_key.public_key


@SETTINGS
@given(seed=st.binary(min_size=PRIVATE_KEY_SIZE - 1, max_size=PRIVATE_KEY_SIZE - 1))
def test_public_key_is_a_deterministic_function_of_the_private_bytes(seed: bytes) -> None:
    raw = b"\x01" + seed
    first = load_private_key(raw)
    second = load_private_key(bytearray(raw))
    assert first.public_key == second.public_key
    assert public_key_bytes(first)[:1] == b"\x01"
    assert open_sealed(second, seal(first.public_key, seed, CONTEXT), CONTEXT) == seed


def test_different_x25519_half_gives_a_different_public_key(key: PrivateKey) -> None:
    raw = bytearray(private_key_bytes(key))
    raw[-2] ^= 0x01  # not a clamped bit
    changed = load_private_key(bytes(raw))
    assert changed.public_key != key.public_key
    assert public_key_bytes(changed)[:-32] == public_key_bytes(key)[:-32]


def test_different_mlkem_seed_gives_a_different_public_key(key: PrivateKey) -> None:
    raw = bytearray(private_key_bytes(key))
    raw[1] ^= 0x01
    changed = load_private_key(bytes(raw))
    assert public_key_bytes(changed)[:-32] != public_key_bytes(key)[:-32]
    assert public_key_bytes(changed)[-32:] == public_key_bytes(key)[-32:]


# --- refusal of garbage --------------------------------------------------------------


@SETTINGS
@given(data=st.binary(max_size=PUBLIC_KEY_SIZE + 8).filter(lambda d: len(d) != PRIVATE_KEY_SIZE))
def test_private_key_of_wrong_length_is_refused(data: bytes) -> None:
    with pytest.raises(CryptoError):
        load_private_key(data)


@SETTINGS
@given(data=st.binary(max_size=PUBLIC_KEY_SIZE + 8).filter(lambda d: len(d) != PUBLIC_KEY_SIZE))
def test_public_key_of_wrong_length_is_refused(data: bytes) -> None:
    with pytest.raises(CryptoError):
        load_public_key(data)


@SETTINGS
@given(tag=st.integers(min_value=0, max_value=255).filter(lambda t: t != 1))
def test_unknown_format_tag_is_refused(key: PrivateKey, tag: int) -> None:
    with pytest.raises(CryptoError):
        load_private_key(bytes([tag]) + private_key_bytes(key)[1:])
    with pytest.raises(CryptoError):
        load_public_key(bytes([tag]) + public_key_bytes(key)[1:])


def test_halves_are_not_interchangeable(key: PrivateKey) -> None:
    with pytest.raises(CryptoError):
        load_private_key(public_key_bytes(key))
    with pytest.raises(CryptoError):
        load_public_key(private_key_bytes(key))


@pytest.mark.parametrize("filler", [b"\xff", b"\x00\xff", b"\xfe\xff\xff"])
def test_invalid_mlkem_public_key_is_refused(key: PrivateKey, filler: bytes) -> None:
    # Coefficients >= q (3329) fail the FIPS 203 modulus check.
    mlkem = (filler * 1184)[:1184]
    with pytest.raises(CryptoError):
        load_public_key(b"\x01" + mlkem + public_key_bytes(key)[-32:])


def test_degenerate_x25519_public_key_is_refused_with_a_crypto_error(key: PrivateKey) -> None:
    # An all-zero X25519 point is low order: loading or sealing to it must fail as a
    # CryptoError, not escape as a bare ValueError from the backend.
    raw = public_key_bytes(key)[:-32] + bytes(32)
    with pytest.raises(CryptoError):
        seal(load_public_key(raw), b"x", CONTEXT)


# --- no key material in text ---------------------------------------------------------


def _secret_fragments(key: PrivateKey) -> list[str]:
    raw = private_key_bytes(key)
    fragments = [raw.hex(), raw.hex().upper(), raw[1:65].hex(), raw[65:].hex()]
    # Any 6-byte window of the private bytes, in hex.
    fragments += [raw[i : i + 6].hex() for i in range(len(raw) - 5)]
    return fragments


@dataclass
class _Holder:
    staff_key: PrivateKey


def test_repr_never_shows_private_bytes(key: PrivateKey) -> None:
    texts = [repr(key), str(key), f"{key}", repr([key]), repr({"k": key}), repr(_Holder(key))]
    for text in texts:
        assert "PrivateKey" in text
        for fragment in _secret_fragments(key):
            assert fragment not in text, text
        assert repr(private_key_bytes(key)) not in text


def test_loading_error_does_not_echo_the_input() -> None:
    garbage = bytes(range(40)) + bytes(range(200, 240))
    for loader in (load_private_key, load_public_key):
        with pytest.raises(CryptoError) as caught:
            loader(garbage)
        text = f"{caught.value!s} {caught.value!r}"
        assert garbage[:8].hex() not in text
        assert repr(garbage[:8])[2:-1] not in text
