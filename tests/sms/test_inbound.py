"""Texts arriving through Twilio's signed webhook: the guided conversation, keywords,
and what is (not) stored. Requests are signed with the real twilio RequestValidator."""

from __future__ import annotations

import base64
import time

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from tipline.crypto import relay
from tipline.models import ReplyHandle, SealedItem, Tip, TipKeyGrant, TipUnit, Unit

pytestmark = pytest.mark.embedded

TOKEN = "test-auth-token-0123456789abcdef"
NUMBER = "+16135550123"
NATIONAL = ("6135550123", "613-555-0123", "(613) 555-0123")
# Twilio's geo guesses about the sender, as distinctive canaries (real values like "ON"
# are too short to search for in a dump).
GEO = {
    "FromCity": "GEOCANARY-CITY",
    "FromState": "GEOCANARY-STATE",
    "FromZip": "GEOCANARY-ZIP",
    "FromCountry": "GEOCANARY-COUNTRY",
}


@pytest.fixture
def sms_app(runtime):  # type: ignore[no-untyped-def]
    from tipline.app import create_app

    runtime.settings = runtime.settings.with_overrides(twilio_auth_token=TOKEN)
    return create_app(runtime=runtime)


def _text(client, runtime, body: str, number: str = NUMBER, sign_url: str | None = None, **extra):  # type: ignore[no-untyped-def]
    params = {
        "MessageSid": "SM" + "a" * 32,
        "AccountSid": "AC" + "b" * 32,
        "From": number,
        "To": "+15145550000",
        "Body": body,
        "NumMedia": "0",
        **GEO,
        **extra,
    }
    url = sign_url or runtime.settings.public_url.rstrip("/") + "/sms/inbound"
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    return client.post("/sms/inbound", data=params, headers={"X-Twilio-Signature": signature})


def _message(response) -> str:  # type: ignore[no-untyped-def]
    xml = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "application/xml", xml
    return xml


def _count(runtime, model) -> int:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def _tip(runtime) -> Tip:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        return session.scalars(select(Tip)).one()


def _units(runtime, tip_id: int) -> set[str]:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        return set(
            session.scalars(
                select(Unit.slug)
                .join(TipUnit, TipUnit.unit_id == Unit.id)
                .where(TipUnit.tip_id == tip_id)
            )
        )


@pytest.mark.parametrize(
    "signature",
    ["", "bm90IGEgc2lnbmF0dXJl", "other-url"],
    ids=["missing", "forged", "signed-for-another-url"],
)
def test_unsigned_or_forged_texts_are_403_and_store_nothing(sms_app, runtime, signature) -> None:  # type: ignore[no-untyped-def]
    client = sms_app.test_client()
    if signature == "other-url":
        response = _text(client, runtime, "A tip.", sign_url="https://evil.example/sms/inbound")
    else:
        params = {"From": NUMBER, "Body": "A tip about the van.", "NumMedia": "0"}
        response = client.post(
            "/sms/inbound", data=params, headers={"X-Twilio-Signature": signature}
        )
    assert response.status_code == 403
    assert _count(runtime, Tip) == 0
    assert not list(runtime.redis.scan_iter(match=f"{runtime.settings.redis_prefix}:sms:*"))


def test_without_an_auth_token_every_text_is_refused(client, runtime) -> None:  # type: ignore[no-untyped-def]
    assert runtime.settings.twilio_auth_token is None
    assert _text(client, runtime, "A tip about the van.").status_code == 403


def test_a_whole_conversation_routes_the_tip_and_keeps_no_number(
    sms_app, runtime, drain, world, caplog
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level("DEBUG")
    client = sms_app.test_client()
    first = _message(_text(client, runtime, "They sell drugs behind the arena on Fridays."))
    tip = _tip(runtime)
    assert tip.channel == "sms" and tip.reference in first
    assert "They sell drugs" not in first  # never echoes the tip back
    assert "2 Drugs" in first  # the numbered category menu
    drain()
    assert _units(runtime, tip.id) == {runtime.config.needs_zone_unit}  # a person sees it now

    assert "K1A" in _message(_text(client, runtime, "2"))  # asks where
    assert "DONE" in _message(_text(client, runtime, "K1A 0B1"))  # routed; open for more
    tip = _tip(runtime)
    assert tip.category == "drugs" and tip.zone == runtime.config.zone_for_postal_code("K1A0B1").id
    units = _units(runtime, tip.id)
    assert units and runtime.config.needs_zone_unit not in units
    with runtime.sessions() as session:
        holders = set(
            session.scalars(select(TipKeyGrant.holder).where(TipKeyGrant.tip_id == tip.id))
        )
    assert holders == {"recovery", *(f"unit:{u}" for u in units)}  # the desk lost its key

    assert "Added" in _message(_text(client, runtime, "The seller drives a blue van."))
    assert "STOP" in _message(_text(client, runtime, "DONE"))
    with runtime.sessions() as session:
        kinds = list(session.scalars(select(SealedItem.kind).where(SealedItem.tip_id == tip.id)))
        handle = session.scalars(select(ReplyHandle)).one()
        # The handle opens to the number with the relay key, and only for this tip.
        assert (
            relay.open_reply_handle(runtime.settings.relay_key, tip.reference, handle.sealed_number)
            == NUMBER
        )
    assert kinds.count("body") == 1 and kinds.count("message") == 2  # postal code + the van
    _assert_no_number_anywhere(runtime)
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records and not any(v in logs for v in (NUMBER, *NATIONAL, *GEO.values()))


def _assert_no_number_anywhere(runtime) -> None:  # type: ignore[no-untyped-def]
    from tests.security.scan import database_dump, redis_dump

    places = {
        "database": b"".join(database_dump(runtime.engine).values()),
        "redis": b"".join(redis_dump(runtime.redis).values()),
    }
    for place, blob in places.items():
        for value in (NUMBER, NUMBER[1:], *NATIONAL, *GEO.values()):
            for form in (value.encode(), base64.b64encode(value.encode())):
                assert form not in blob, f"{value!r} found in {place}"


def test_keywords_are_never_tips(sms_app, runtime) -> None:  # type: ignore[no-untyped-def]
    client = sms_app.test_client()
    assert "911" in _message(_text(client, runtime, "HELP"))
    assert "911" in _message(_text(client, runtime, "aide"))
    assert "<Message" not in _message(_text(client, runtime, "Stop"))
    assert "again" in _message(_text(client, runtime, "START"))
    assert _count(runtime, Tip) == 0


def test_stop_forgets_the_conversation_and_its_reply_handle(sms_app, runtime) -> None:  # type: ignore[no-untyped-def]
    client = sms_app.test_client()
    _text(client, runtime, "Someone is selling guns from a garage.")
    assert _count(runtime, ReplyHandle) == 1
    _message(_text(client, runtime, "ARRÊT"))
    assert _count(runtime, ReplyHandle) == 0
    assert not list(runtime.redis.scan_iter(match=f"{runtime.settings.redis_prefix}:sms:*"))
    assert _count(runtime, Tip) == 1  # the tip itself stays for the investigators


def test_a_french_first_word_gets_french_answers(sms_app, runtime) -> None:  # type: ignore[no-untyped-def]
    client = sms_app.test_client()
    reply = _message(_text(client, runtime, "Bonjour, il y a de la drogue au parc."))
    assert "2 Drogues" in reply and "Drugs" not in reply
    assert "Drogues" not in _message(_text(client, runtime, "LANG"))  # switched to English


def test_limits_and_empty_texts_store_nothing(sms_app, runtime) -> None:  # type: ignore[no-untyped-def]
    client = sms_app.test_client()
    assert "1600" in _message(_text(client, runtime, "x" * 1601))
    assert "empty" in _message(_text(client, runtime, "   "))
    assert _count(runtime, Tip) == 0
    reply = _message(_text(client, runtime, "Signal 🚨 at Zürich Straße, Москва."))
    assert _count(runtime, Tip) == 1 and "<Message" in reply


def test_expired_conversation_starts_a_new_tip(sms_app, runtime) -> None:  # type: ignore[no-untyped-def]
    client = sms_app.test_client()
    _text(client, runtime, "First tip about a stolen car.")
    for key in runtime.redis.scan_iter(match=f"{runtime.settings.redis_prefix}:sms:*"):
        runtime.redis.delete(key)  # what the TTL does
    reply = _message(_text(client, runtime, "3"))
    assert _count(runtime, Tip) == 2 and "ref" in reply


def test_redis_down_the_text_is_still_a_tip(sms_app, runtime) -> None:  # type: ignore[no-untyped-def]
    from tipline.runtime import Runtime

    client = sms_app.test_client()
    real = runtime.redis
    # The client the service builds, pointed where no Redis listens.
    dead = Runtime(runtime.settings.with_overrides(redis_url="redis://127.0.0.1:1/0")).redis
    runtime.__dict__["redis"] = dead
    started = time.monotonic()
    try:
        reply = _message(_text(client, runtime, "Redis is down but this text must count."))
        assert "<Message" not in _message(_text(client, runtime, "STOP"))  # no 500 either
    finally:
        runtime.__dict__["redis"] = real
    # Twilio gives up on a webhook after 15 s: a dead Redis must not be retried for long
    # (redis-py's own default client retries each command ten times, ~4 s).
    assert time.monotonic() - started < 5
    tip = _tip(runtime)
    assert tip.reference in reply and "received" in reply
    # Without Redis the STOP still reaches the database: the handle is gone.
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ReplyHandle)) == 0


def test_database_down_asks_to_send_again_and_stores_nothing(runtime) -> None:  # type: ignore[no-untyped-def]
    from tipline.app import create_app
    from tipline.runtime import Runtime

    broken = Runtime(
        runtime.settings.with_overrides(
            twilio_auth_token=TOKEN,
            database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
        )
    )
    broken.__dict__["redis"] = runtime.redis
    client = create_app(runtime=broken).test_client()
    reply = _message(_text(client, broken, "The database is down for this one."))
    assert "again" in reply
    assert _count(runtime, Tip) == 0
    assert not list(runtime.redis.scan_iter(match=f"{runtime.settings.redis_prefix}:sms:*"))
