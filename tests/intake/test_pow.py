"""Optional proof of work: solved, it lifts the per-connection limit for one tip;
missing, forged, stale or replayed, the tip is simply counted — never refused for it."""

from __future__ import annotations

import hashlib
import re
import time

import pytest
from sqlalchemy import func, select

from tests.support.forms import csrf_token
from tipline.intake import pow as proof
from tipline.models import Tip

pytestmark = pytest.mark.embedded

SECRET = b"k" * 32


@pytest.fixture
def limited_app(runtime):  # type: ignore[no-untyped-def]
    from tipline.app import create_app

    runtime.settings = runtime.settings.with_overrides(
        tip_rate_limit="2 per hour", pow_tip_rate_limit="2 per hour", pow_bits=8
    )
    return create_app(runtime=runtime)


def _form(client) -> tuple[str, str, int]:  # type: ignore[no-untyped-def]
    page = client.get("/tip").get_data(as_text=True)
    challenge = re.search(r'data-pow-challenge="([^"]+)"', page)
    bits = re.search(r'data-pow-bits="(\d+)"', page)
    assert challenge and bits, "the form carries no challenge"
    return csrf_token(client, "/tip"), challenge.group(1), int(bits.group(1))


def _send(client, text: str, challenge: str = "", nonce: str = ""):  # type: ignore[no-untyped-def]
    return client.post(
        "/tip",
        data={
            "category": "drugs",
            "zone": "on-north",
            "description": text,
            "csrf_token": csrf_token(client, "/tip"),
            "pow_challenge": challenge,
            "pow_nonce": nonce,
        },
    )


def _solves(challenge: str, nonce: str, bits: int) -> bool:
    digest = hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()
    return proof.leading_zero_bits(digest) >= bits


def test_a_solution_verifies_and_anything_else_does_not() -> None:
    challenge = proof.new_challenge(SECRET, 8)
    nonce = proof.solve(challenge, 8)
    assert proof.verify(SECRET, challenge, nonce)
    assert not proof.verify(b"x" * 32, challenge, nonce)  # another service's secret
    assert not proof.verify(SECRET, challenge.replace(".8.", ".1."), nonce)  # easier: forged
    wrong = next(str(n) for n in range(10_000) if not _solves(challenge, str(n), 8))
    assert not proof.verify(SECRET, challenge, wrong)
    old = proof.new_challenge(SECRET, 8, now=time.time() - proof.MAX_AGE - 10)
    assert not proof.verify(SECRET, old, proof.solve(old, 8))  # stale
    assert not proof.verify(SECRET, "p1.garbage", "1")
    assert not proof.verify(SECRET, challenge, "not-a-number")


def _paid(client, text: str):  # type: ignore[no-untyped-def]
    _, challenge, bits = _form(client)
    return _send(client, text, challenge, proof.solve(challenge, bits))


def test_solved_work_buys_a_bounded_allowance_not_unlimited_tips(limited_app, runtime) -> None:  # type: ignore[no-untyped-def]
    client = limited_app.test_client()
    assert [_send(client, f"Counted tip {i} about the van.").status_code for i in range(2)] == [
        200,
        200,
    ]
    paid = [_paid(client, f"Paid tip {i} about the van.").status_code for i in range(3)]
    assert paid == [200, 200, 429]  # the paid allowance (2 per hour) is a limit too
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Tip)) == 4


def test_work_is_checked_once_per_tip_even_with_several_rates(runtime) -> None:  # type: ignore[no-untyped-def]
    from tipline.app import create_app

    runtime.settings = runtime.settings.with_overrides(
        tip_rate_limit="2 per hour;3 per day", pow_tip_rate_limit="5 per hour;9 per day", pow_bits=8
    )
    client = create_app(runtime=runtime).test_client()
    assert [_paid(client, f"Paid tip {i} with two rates.").status_code for i in range(5)] == [
        200
    ] * 5


def test_the_spent_marker_does_not_date_the_tip(limited_app, runtime) -> None:  # type: ignore[no-untyped-def]
    client = limited_app.test_client()
    assert _paid(client, "A paid tip whose marker we inspect.").status_code == 200
    (key,) = list(runtime.redis.scan_iter(match="*pow-spent*"))
    expires_at = time.time() + runtime.redis.ttl(key)
    step = runtime.settings.time_granularity_minutes * 60
    # It expires on a granularity boundary, not a fixed delay after the tip was sent.
    assert round(expires_at) % step in (0, 1, step - 1)


def test_solved_tips_pass_the_limit_and_a_replay_does_not(limited_app, runtime) -> None:  # type: ignore[no-untyped-def]
    client = limited_app.test_client()
    assert [_send(client, f"Counted tip {i} about the van.").status_code for i in range(2)] == [
        200,
        200,
    ]
    assert _send(client, "Third without work: refused.").status_code == 429
    _, challenge, bits = _form(client)
    nonce = proof.solve(challenge, bits)
    assert _send(client, "Third, with the work done.", challenge, nonce).status_code == 200
    # The same solution again is counted like any other tip: here, over the limit.
    assert _send(client, "A replay of that work.", challenge, nonce).status_code == 429
    forged = challenge[:-4] + "0000"
    assert _send(client, "A forged challenge.", forged, nonce).status_code == 429
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Tip)) == 3
    # Only a hash of the spent challenge is kept, under our prefix.
    spent = [k.decode() for k in runtime.redis.scan_iter(match="*pow-spent*")]
    assert len(spent) == 1 and challenge not in spent[0]


def test_a_bad_or_missing_solution_never_refuses_a_tip(client) -> None:  # type: ignore[no-untyped-def]
    assert _send(client, "No JavaScript here at all.").status_code == 200
    assert _send(client, "Garbage in the hidden fields.", "p1.x.y.z.w", "12").status_code == 200
