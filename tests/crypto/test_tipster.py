import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tipline.crypto import KdfProfile, open_sealed, seal
from tipline.crypto.sealing import Context
from tipline.crypto.tipster import WORDS, derive, new_passphrase, normalize, wordlist

PROFILE = KdfProfile.for_tests()
PEPPER = b"p" * 32


def test_passphrases_are_seven_list_words_with_at_least_90_bits() -> None:
    words = wordlist()
    assert WORDS * math.log2(len(words)) >= 90
    phrases = {new_passphrase() for _ in range(50)}
    assert len(phrases) == 50  # no repeats in 50 draws of 2**90
    for phrase in phrases:
        parts = phrase.split(" ")
        assert len(parts) == WORDS and all(p in words for p in parts)


@pytest.mark.parametrize(
    "variant", ["ABACUS  zebra\tvanilla", " abacus zebra vanilla ", "Abacus Zebra Vanilla"]
)
def test_case_and_spacing_do_not_matter(variant: str) -> None:
    assert normalize(variant) == "abacus zebra vanilla"
    assert (
        derive(variant, PEPPER, PROFILE).lookup_id
        == derive("abacus zebra vanilla", PEPPER, PROFILE).lookup_id
    )


def test_derivations_are_deterministic_independent_and_peppered() -> None:
    phrase = new_passphrase()
    first, again = derive(phrase, PEPPER, PROFILE), derive(phrase, PEPPER, PROFILE)
    assert first.lookup_id == again.lookup_id and first.key.public_key == again.key.public_key
    assert len(first.lookup_id) == 64
    # The lookup id says nothing about the key, and the pepper changes both.
    assert first.lookup_id not in first.key.raw.hex()
    other_pepper = derive(phrase, b"q" * 32, PROFILE)
    assert (
        other_pepper.lookup_id != first.lookup_id
        and other_pepper.key.public_key != first.key.public_key
    )
    assert "lookup" not in repr(first) and first.lookup_id not in repr(first)


@settings(max_examples=10, deadline=None, database=None)
@given(a=st.text(min_size=1, max_size=30), b=st.text(min_size=1, max_size=30))
def test_different_passphrases_give_different_secrets(a: str, b: str) -> None:
    if normalize(a) == normalize(b):
        return
    assert derive(a, PEPPER, PROFILE).lookup_id != derive(b, PEPPER, PROFILE).lookup_id


def test_the_derived_key_opens_what_was_sealed_to_it() -> None:
    phrase = new_passphrase()
    sealed = seal(
        derive(phrase, PEPPER, PROFILE).key.public_key,
        b"tip key",
        Context("tip-key", "REF", "tipster"),
    )
    assert (
        open_sealed(
            derive(phrase.upper(), PEPPER, PROFILE).key,
            sealed,
            Context("tip-key", "REF", "tipster"),
        )
        == b"tip key"
    )
