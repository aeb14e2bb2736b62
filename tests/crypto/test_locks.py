"""Argon2id password locks (staff keys): round-trip, refusals, self-described costs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tipline.crypto import (
    KdfProfile,
    WrongPassword,
    generate_private_key,
    lock_with_password,
    private_key_bytes,
    unlock_with_password,
)
from tipline.crypto.locks import lock_profile

SETTINGS = settings(max_examples=15, deadline=None, database=None)
PROFILE = KdfProfile.for_tests()
PASSWORDS = st.text(st.characters(codec="utf-8"), max_size=40)
LABELS = st.text(st.sampled_from("staff-key:0123456789|é"), max_size=20)
SECRET = bytes(range(97))
PASSWORD = "correct horse battery staple"
LABEL = "staff-key:7"

MAGIC, SALT, COSTS = 4, 16, 6  # header: magic | salt | t(1) m(4) p(1)


@pytest.fixture(scope="module")
def blob() -> bytes:
    return lock_with_password(SECRET, PASSWORD, PROFILE, LABEL)


def _layout(blob: bytes) -> tuple[int, int]:
    """(start, end) of the cost parameters inside a lock."""
    start = MAGIC + SALT
    return start, start + COSTS


# --- round-trips ---------------------------------------------------------------------


@SETTINGS
@given(secret=st.binary(max_size=200), password=PASSWORDS, label=LABELS)
def test_round_trip(secret: bytes, password: str, label: str) -> None:
    locked = lock_with_password(secret, password, PROFILE, label)
    assert unlock_with_password(locked, password, label) == secret
    if len(secret) >= 8:
        assert secret not in locked


def test_round_trip_of_a_real_private_key() -> None:
    raw = private_key_bytes(generate_private_key())
    locked = lock_with_password(raw, "pässwörd ✓", PROFILE, LABEL)
    assert unlock_with_password(locked, "pässwörd ✓", LABEL) == raw


def test_locks_are_salted(blob: bytes) -> None:
    again = lock_with_password(SECRET, PASSWORD, PROFILE, LABEL)
    assert again != blob
    assert again[MAGIC : MAGIC + SALT] != blob[MAGIC : MAGIC + SALT]
    assert unlock_with_password(again, PASSWORD, LABEL) == unlock_with_password(
        blob, PASSWORD, LABEL
    )


@pytest.mark.parametrize(
    "profile",
    [
        KdfProfile.for_tests(),
        KdfProfile(time_cost=2, memory_cost=16 * 1024, parallelism=2),
        KdfProfile(time_cost=1, memory_cost=9 * 1024, parallelism=3),
    ],
)
def test_lock_profile_reads_back_the_profile_used(profile: KdfProfile) -> None:
    locked = lock_with_password(SECRET, PASSWORD, profile, LABEL)
    assert lock_profile(locked) == profile
    assert unlock_with_password(locked, PASSWORD, LABEL) == SECRET


def test_profile_changes_the_derived_key() -> None:
    # Same password and secret under two profiles: each lock opens, and swapping the
    # cost headers between them does not.
    weak = lock_with_password(SECRET, PASSWORD, PROFILE, LABEL)
    other = lock_with_password(SECRET, PASSWORD, KdfProfile(2, 8 * 1024, 1), LABEL)
    w_start, w_end = _layout(weak)
    o_start, o_end = _layout(other)
    assert w_end - w_start == o_end - o_start
    forged = weak[:w_start] + other[o_start:o_end] + weak[w_end:]
    with pytest.raises(WrongPassword):
        unlock_with_password(forged, PASSWORD, LABEL)


# --- refusals ------------------------------------------------------------------------


@SETTINGS
@given(password=PASSWORDS.filter(lambda p: p != PASSWORD))
def test_wrong_password_is_refused(blob: bytes, password: str) -> None:
    with pytest.raises(WrongPassword):
        unlock_with_password(blob, password, LABEL)


@pytest.mark.parametrize(
    "password", ["", PASSWORD.upper(), PASSWORD + " ", PASSWORD[:-1], " " + PASSWORD]
)
def test_near_miss_passwords_are_refused(blob: bytes, password: str) -> None:
    with pytest.raises(WrongPassword):
        unlock_with_password(blob, password, LABEL)


@SETTINGS
@given(label=LABELS.filter(lambda label: label != LABEL))
def test_wrong_label_is_refused(blob: bytes, label: str) -> None:
    with pytest.raises(WrongPassword):
        unlock_with_password(blob, PASSWORD, label)


@SETTINGS
@given(data=st.data())
def test_tampered_salt_or_ciphertext_is_refused(blob: bytes, data: st.DataObject) -> None:
    _, header_end = _layout(blob)
    index = data.draw(
        st.one_of(
            st.integers(min_value=MAGIC, max_value=MAGIC + SALT - 1),
            st.integers(min_value=header_end, max_value=len(blob) - 1),
        ),
        label="index",
    )
    bit = data.draw(st.integers(min_value=0, max_value=7), label="bit")
    tampered = bytearray(blob)
    tampered[index] ^= 1 << bit
    with pytest.raises(WrongPassword):
        unlock_with_password(bytes(tampered), PASSWORD, LABEL)


def test_every_tampered_byte_is_refused_as_wrong_password(blob: bytes) -> None:
    # Exhaustive, including the magic, the header length and the JSON cost header: a
    # damaged lock must be reported as WrongPassword, never escape as another exception.
    failures = {}
    for index in range(len(blob)):
        tampered = bytearray(blob)
        tampered[index] ^= 0x01
        try:
            unlock_with_password(bytes(tampered), PASSWORD, LABEL)
        except WrongPassword:
            continue
        except Exception as exc:  # collected and reported below
            failures[index] = type(exc).__name__
        else:
            failures[index] = "opened"
    assert failures == {}, f"header spans bytes {_layout(blob)}"


def test_truncated_lock_is_refused_as_wrong_password(blob: bytes) -> None:
    failures = {}
    for length in range(len(blob)):
        try:
            unlock_with_password(blob[:length], PASSWORD, LABEL)
        except WrongPassword:
            continue
        except Exception as exc:  # collected and reported below
            failures[length] = type(exc).__name__
        else:
            failures[length] = "opened"
    assert failures == {}


@pytest.mark.parametrize("junk", [b"", b"TLK", b"TLK0" + bytes(60), b"not a lock at all"])
def test_foreign_blobs_are_refused(junk: bytes) -> None:
    with pytest.raises(WrongPassword):
        unlock_with_password(junk, PASSWORD, LABEL)
