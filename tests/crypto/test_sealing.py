"""HPKE sealing: round-trips, context binding, wrong keys and tampering.

Keys are generated once per module (ML-KEM keygen is the slow part); every property then
runs on fresh ciphertexts.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tipline.crypto import (
    Context,
    CryptoError,
    PrivateKey,
    SealError,
    open_sealed,
    seal,
)

SETTINGS = settings(max_examples=40, deadline=None, database=None)

# Unicode text that often contains the characters a naive "join with a separator"
# encoding would trip on.
FIELD_TEXT = st.text(
    alphabet=st.one_of(st.sampled_from("|:/,\x00 "), st.characters(codec="utf-8")),
    max_size=24,
)
VERSIONS = st.integers(min_value=0, max_value=2**32 - 1)
CONTEXTS = st.builds(Context, kind=FIELD_TEXT, owner=FIELD_TEXT, item=FIELD_TEXT, version=VERSIONS)
PLAINTEXTS = st.binary(max_size=2048)
FIELD_STRATEGIES = {
    "kind": FIELD_TEXT,
    "owner": FIELD_TEXT,
    "item": FIELD_TEXT,
    "version": VERSIONS,
}


# --- round-trips ---------------------------------------------------------------------


@SETTINGS
@given(plaintext=PLAINTEXTS, context=CONTEXTS)
@example(plaintext=b"", context=Context("", ""))
@example(plaintext=b"tip body", context=Context("tip-body", "T-7|Q", "a|b", 0))
def test_round_trip(key: PrivateKey, plaintext: bytes, context: Context) -> None:
    ciphertext = seal(key.public_key, plaintext, context)
    assert open_sealed(key, ciphertext, context) == plaintext


def test_sealing_is_randomised_and_hides_the_plaintext(key: PrivateKey) -> None:
    context = Context("tip-body", "T-1")
    plaintext = b"the shipment arrives at pier 4 on tuesday " * 4
    first = seal(key.public_key, plaintext, context)
    second = seal(key.public_key, plaintext, context)
    assert first != second
    assert plaintext[:16] not in first
    assert open_sealed(key, first, context) == open_sealed(key, second, context) == plaintext


@SETTINGS
@given(plaintext=PLAINTEXTS)
def test_overhead_is_constant(key: PrivateKey, plaintext: bytes) -> None:
    context = Context("tip-body", "T-1")
    overhead = len(seal(key.public_key, b"", context))
    assert overhead > 1000  # ML-KEM-768 + X25519 encapsulation + GCM tag
    assert len(seal(key.public_key, plaintext, context)) == overhead + len(plaintext)


# --- context binding -----------------------------------------------------------------


@pytest.mark.parametrize("field", ["kind", "owner", "item", "version"])
@SETTINGS
@given(plaintext=st.binary(max_size=64), context=CONTEXTS, data=st.data())
def test_swapped_ciphertext_does_not_open_under_another_context(
    key: PrivateKey, field: str, plaintext: bytes, context: Context, data: st.DataObject
) -> None:
    old = getattr(context, field)
    new = data.draw(FIELD_STRATEGIES[field].filter(lambda value: value != old), label=field)
    moved = dataclasses.replace(context, **{field: new})
    assert moved.info() != context.info()
    ciphertext = seal(key.public_key, plaintext, context)
    with pytest.raises(SealError):
        open_sealed(key, ciphertext, moved)
    assert open_sealed(key, ciphertext, context) == plaintext


AMBIGUOUS_PAIRS = [
    (Context("a|b", "c"), Context("a", "b|c")),
    (Context("ab", ""), Context("a", "b")),
    (Context("a", "b", "c"), Context("a", "bc", "")),
    (Context("a", "b", "1", 2), Context("a", "b", "", 12)),
    (Context("a", "b", "", 1), Context("a", "b", "1", 1)),
    (Context("tip-key", "T-1", "unit:north", 1), Context("tip-key", "T-1", "unit:north", 11)),
    (Context("\x00\x01", "x"), Context("", "\x01x")),
]


@pytest.mark.parametrize(("first", "second"), AMBIGUOUS_PAIRS)
def test_context_encoding_is_unambiguous(key: PrivateKey, first: Context, second: Context) -> None:
    assert first.info() != second.info()
    ciphertext = seal(key.public_key, b"secret", first)
    with pytest.raises(SealError):
        open_sealed(key, ciphertext, second)


@SETTINGS
@given(first=CONTEXTS, second=CONTEXTS)
def test_info_is_injective(first: Context, second: Context) -> None:
    assert (first.info() == second.info()) == (first == second)


@SETTINGS
@given(
    text=st.text(alphabet=st.sampled_from("a|é\x00"), max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=12), min_size=4, max_size=4),
    version=st.integers(min_value=0, max_value=99),
)
def test_contexts_with_the_same_concatenation_stay_distinct(
    text: str, cuts: list[int], version: int
) -> None:
    # Every way of cutting one string into kind/owner/item must give a distinct info().
    a, b = sorted(min(c, len(text)) for c in cuts[:2])
    c, d = sorted(min(c, len(text)) for c in cuts[2:])
    first = Context(text[:a], text[a:b], text[b:], version)
    second = Context(text[:c], text[c:d], text[d:], version)
    assert (first.info() == second.info()) == ((a, b) == (c, d))


def test_overlong_field_is_refused_not_wrapped() -> None:
    # A 2-byte length prefix cannot describe 65536 bytes; it must not silently wrap.
    with pytest.raises((CryptoError, ValueError, OverflowError)):
        Context("tip-body", "x" * 65536).info()


# --- wrong key, tampering, truncation ------------------------------------------------


@SETTINGS
@given(plaintext=st.binary(max_size=256), context=CONTEXTS)
def test_wrong_key_is_refused(
    key: PrivateKey, other_key: PrivateKey, plaintext: bytes, context: Context
) -> None:
    ciphertext = seal(key.public_key, plaintext, context)
    with pytest.raises(SealError):
        open_sealed(other_key, ciphertext, context)


@SETTINGS
@given(plaintext=st.binary(max_size=256), data=st.data())
def test_any_flipped_bit_is_refused(key: PrivateKey, plaintext: bytes, data: st.DataObject) -> None:
    context = Context("message", "T-9", "m-1")
    ciphertext = seal(key.public_key, plaintext, context)
    index = data.draw(st.integers(min_value=0, max_value=len(ciphertext) - 1), label="index")
    bit = data.draw(st.integers(min_value=0, max_value=7), label="bit")
    tampered = bytearray(ciphertext)
    tampered[index] ^= 1 << bit
    with pytest.raises(SealError):
        open_sealed(key, bytes(tampered), context)


@pytest.mark.parametrize("region", ["first", "encapsulation-end", "body", "last"])
def test_flipped_byte_in_each_region_is_refused(key: PrivateKey, region: str) -> None:
    context = Context("message", "T-9", "m-1")
    ciphertext = seal(key.public_key, b"x" * 40, context)
    index = {
        "first": 0,
        "encapsulation-end": len(ciphertext) - 40 - 16 - 1,
        "body": len(ciphertext) - 16 - 20,
        "last": len(ciphertext) - 1,
    }[region]
    tampered = bytearray(ciphertext)
    tampered[index] ^= 0xFF
    with pytest.raises(SealError):
        open_sealed(key, bytes(tampered), context)


@SETTINGS
@given(plaintext=st.binary(max_size=256), data=st.data())
def test_truncation_is_refused(key: PrivateKey, plaintext: bytes, data: st.DataObject) -> None:
    context = Context("message", "T-9", "m-2")
    ciphertext = seal(key.public_key, plaintext, context)
    length = data.draw(st.integers(min_value=0, max_value=len(ciphertext) - 1), label="length")
    with pytest.raises(SealError):
        open_sealed(key, ciphertext[:length], context)


@pytest.mark.parametrize("keep", [0, 1, 32, 1119, 1120, 1121, -1])
def test_truncation_at_format_boundaries_is_refused(key: PrivateKey, keep: int) -> None:
    context = Context("message", "T-9", "m-2")
    ciphertext = seal(key.public_key, b"", context)
    with pytest.raises(SealError):
        open_sealed(key, ciphertext[:keep], context)


@SETTINGS
@given(plaintext=st.binary(max_size=256), extra=st.binary(min_size=1, max_size=64))
def test_appended_bytes_are_refused(key: PrivateKey, plaintext: bytes, extra: bytes) -> None:
    context = Context("message", "T-9", "m-3")
    ciphertext = seal(key.public_key, plaintext, context)
    with pytest.raises(SealError):
        open_sealed(key, ciphertext + extra, context)


def test_seal_error_does_not_carry_key_material(key: PrivateKey) -> None:
    context = Context("tip-key", "T-3", "unit:north", 2)
    ciphertext = seal(key.public_key, b"payload", context)
    with pytest.raises(SealError) as caught:
        open_sealed(key, ciphertext[:-1], context)
    text = f"{caught.value!s} {caught.value!r} {caught.value.__cause__!r}"
    assert key.raw.hex() not in text
    assert key.raw[1:17].hex() not in text


@pytest.mark.parametrize("version", [True, "1", -1, 2**32, 1.0])
def test_context_version_must_be_a_plain_bounded_integer(version: object) -> None:
    # Context(version="1") and Context(version=1) must not be two objects with one info().
    with pytest.raises(ValueError, match="version"):
        Context("tip-body", "T-1", "", version)  # type: ignore[arg-type]
