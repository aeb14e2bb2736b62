"""The web tipster comes back: reference + passphrase, messages both ways, reward."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from tests.intake.scrub.samples import assert_clean, tagged_jpeg
from tests.support.forms import (
    csrf_token,
    followup_sign_in,
    passphrase_from,
    reference_from,
    sign_in,
    submit_tip,
)
from tipline.crypto import tipster
from tipline.followup import signin
from tipline.models import SealedItem, Tip

pytestmark = pytest.mark.embedded


def _tip(client, drain, **fields):  # type: ignore[no-untyped-def]
    page = submit_tip(client, **fields).get_data(as_text=True)
    drain()
    return reference_from(page), passphrase_from(page)


def _staff_message(app, account, reference: str, text: str):  # type: ignore[no-untyped-def]
    staff = app.test_client()
    sign_in(staff, account)
    token = csrf_token(staff, "/staff/")  # the tip page itself may be a 404
    return staff.post(
        f"/staff/tips/{reference}/messages", data={"message": text, "csrf_token": token}
    )


def _reply(client, text: str, files=None, lang: str = "en"):  # type: ignore[no-untyped-def]
    data = {"message": text, "lang": lang, "csrf_token": csrf_token(client, "/followup")}
    if files:
        data["attachments"] = files
    return client.post(f"/followup?lang={lang}", data=data, content_type="multipart/form-data")


def test_receipt_passphrase_is_seven_words_and_never_stored(client, drain, runtime) -> None:  # type: ignore[no-untyped-def]
    reference, passphrase = _tip(client, drain)
    words = passphrase.split()
    assert len(words) == 7 and set(words) <= set(tipster.wordlist())
    with runtime.sessions() as db:
        tip = db.scalars(select(Tip).where(Tip.reference == reference)).one()
        # Only the peppered derivation is stored; it is what the passphrase derives.
        assert tip.tipster_lookup == tipster.derive(passphrase, runtime.settings.pepper).lookup_id
        row = " ".join(str(v) for v in tip.__dict__.values())
    assert passphrase not in row
    assert not any(passphrase.encode() in v for v in _redis_values(runtime))


def _redis_values(runtime) -> list[bytes]:  # type: ignore[no-untyped-def]
    values = []
    for key in runtime.redis.scan_iter(match=f"{runtime.settings.redis_prefix}*"):
        if runtime.redis.type(key) == b"string":
            values.append(key + b"=" + (runtime.redis.get(key) or b""))
    return values


def test_a_question_and_an_answer_go_both_ways_sealed(app, client, drain, world, runtime) -> None:  # type: ignore[no-untyped-def]
    reference, passphrase = _tip(client, drain)
    question = "Which night of the week does the van come?"
    assert _staff_message(app, world["north"], reference, question).status_code == 303

    signed_in = followup_sign_in(client, reference.lower(), passphrase.upper())
    assert signed_in.status_code == 303  # case does not matter for either
    page = client.get("/followup").get_data(as_text=True)
    assert question in page and f'id="tip-reference">{reference}<' in page
    assert "north@example.test" not in page  # the tipster sees "Investigator", no name

    answer = "Tuesdays, after midnight, always the same driver."
    sent = _reply(client, answer)
    assert sent.status_code == 303 and "sent=1" in sent.headers["Location"]
    assert answer in client.get(sent.headers["Location"]).get_data(as_text=True)

    staff = app.test_client()
    sign_in(staff, world["all"])  # another account: one TOTP code signs in once
    assert "tipster replied" in staff.get("/staff/").get_data(as_text=True)
    tip_page = staff.get(f"/staff/tips/{reference}").get_data(as_text=True)
    assert question in tip_page and answer in tip_page
    assert "tipster replied" not in staff.get("/staff/").get_data(as_text=True)

    with runtime.sessions() as db:
        blobs = b"".join(
            i.ciphertext or b""
            for i in db.scalars(select(SealedItem).where(SealedItem.kind == "message"))
        )
    assert blobs and question.encode() not in blobs and answer.encode() not in blobs


def test_wrong_passphrase_and_unknown_reference_get_the_same_answer(client, drain) -> None:  # type: ignore[no-untyped-def]
    reference, passphrase = _tip(client, drain)
    words = passphrase.split()
    wrong = " ".join([*words[:-1], "zebra" if words[-1] != "zebra" else "yodel"])
    bad_passphrase = followup_sign_in(client, reference, wrong)
    unknown = followup_sign_in(client, "ZZZZZZZZZZ", passphrase)
    assert bad_passphrase.status_code == unknown.status_code == 401
    body = bad_passphrase.get_data(as_text=True)
    assert "The reference or the passphrase is not right" in body
    assert body.replace(reference, "X") == unknown.get_data(as_text=True).replace("ZZZZZZZZZZ", "X")
    assert signin.COOKIE not in (bad_passphrase.headers.get("Set-Cookie") or "")
    # Someone else's passphrase with this reference does not open it either.
    _, other_passphrase = _tip(client, drain)
    assert followup_sign_in(client, reference, other_passphrase).status_code == 401
    assert client.get("/followup").get_data(as_text=True).count('name="passphrase"') == 1


def test_failed_sign_ins_are_throttled_per_reference_without_addresses(
    client, drain, runtime
) -> None:  # type: ignore[no-untyped-def]
    reference, passphrase = _tip(client, drain)
    other_reference, other_passphrase = _tip(client, drain)
    for _ in range(signin.MAX_FAILURES):
        assert followup_sign_in(client, reference, "not the passphrase").status_code == 401
    blocked = followup_sign_in(client, reference, passphrase)
    assert blocked.status_code == 429
    assert "Too many attempts for this reference" in blocked.get_data(as_text=True)
    # Another tip's tipster, on the same connection, is not locked out.
    assert followup_sign_in(client, other_reference, other_passphrase).status_code == 303
    keys = [k.decode() for k in runtime.redis.scan_iter(match="*followup-failures*")]
    assert keys and not any(reference in k or "127.0.0.1" in k for k in keys)


def test_session_ends_after_inactivity_and_a_late_reply_is_not_lost_silently(
    client, drain, runtime
) -> None:  # type: ignore[no-untyped-def]
    reference, passphrase = _tip(client, drain)
    followup_sign_in(client, reference, passphrase)
    keys = list(
        runtime.redis.scan_iter(match=f"{runtime.settings.redis_prefix}:followup-session:*")
    )
    assert len(keys) == 1
    idle = runtime.settings.followup_session_minutes * 60
    assert idle - 5 <= runtime.redis.ttl(keys[0]) <= idle
    runtime.redis.delete(keys[0])  # what the inactivity timeout does
    assert 'name="passphrase"' in client.get("/followup").get_data(as_text=True)
    late = _reply(client, "A reply typed after a long pause.")
    assert late.status_code == 401
    assert "your message was not sent" in late.get_data(as_text=True)
    with runtime.sessions() as db:
        assert db.scalars(select(SealedItem).where(SealedItem.kind == "message")).first() is None


def test_sign_out_ends_the_session(client, drain, runtime) -> None:  # type: ignore[no-untyped-def]
    reference, passphrase = _tip(client, drain)
    followup_sign_in(client, reference, passphrase)
    token = csrf_token(client, "/followup")
    assert client.post("/followup/signout", data={"csrf_token": token}).status_code == 303
    assert not list(runtime.redis.scan_iter(match="*followup-session*"))
    assert 'name="passphrase"' in client.get("/followup").get_data(as_text=True)


def test_reply_with_a_photo_is_scrubbed_and_readable_by_staff(
    app, client, drain, world, runtime, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    reference, passphrase = _tip(client, drain)
    followup_sign_in(client, reference, passphrase)
    photo = tagged_jpeg(tmp_path)
    sent = _reply(client, "Here is the van.", files=[(io.BytesIO(photo.read_bytes()), "van.jpg")])
    assert sent.status_code == 303
    assert "van.jpg" in client.get("/followup").get_data(as_text=True)

    staff = app.test_client()
    sign_in(staff, world["north"])
    page = staff.get(f"/staff/tips/{reference}").get_data(as_text=True)
    link = re.search(rf'href="(/staff/tips/{reference}/attachments/[0-9a-f]+)">van\.jpg<', page)
    assert link, page
    download = staff.get(link.group(1))
    assert download.status_code == 200
    stored = tmp_path / "stored.jpg"
    stored.write_bytes(download.data)
    assert_clean(stored)


def test_a_bad_reply_keeps_the_text_and_stores_nothing(client, drain, runtime) -> None:  # type: ignore[no-untyped-def]
    reference, passphrase = _tip(client, drain)
    followup_sign_in(client, reference, passphrase)
    text = "This explains the attached file."
    bad = _reply(client, text, files=[(io.BytesIO(b"MZ\x90\x00 not a document"), "a.exe")])
    assert bad.status_code == 415
    body = bad.get_data(as_text=True)
    assert text in body  # what they typed is still in the box
    assert 'aria-invalid="true"' in body
    assert _reply(client, "   ").status_code == 400
    with runtime.sessions() as db:
        kinds = set(db.scalars(select(SealedItem.kind)))
    assert kinds == {"body"}
    assert not list((runtime.settings.data_dir / "attachments").rglob("*.sealed"))


def test_reward_decision_is_a_supervisors_and_the_tipster_sees_it(
    app, client, drain, world
) -> None:  # type: ignore[no-untyped-def]
    reference, passphrase = _tip(client, drain)
    investigator = app.test_client()
    sign_in(investigator, world["north"])
    token = csrf_token(investigator, f"/staff/tips/{reference}")
    refused = investigator.post(
        f"/staff/tips/{reference}/reward", data={"decision": "approved", "csrf_token": token}
    )
    assert refused.status_code == 403

    followup_sign_in(client, reference, passphrase)
    assert 'data-decision="none"' in client.get("/followup").get_data(as_text=True)

    chief = app.test_client()
    sign_in(chief, world["chief"])
    token = csrf_token(chief, f"/staff/tips/{reference}")
    note = "Call the coordinator and quote your reference to claim it."
    decided = chief.post(
        f"/staff/tips/{reference}/reward",
        data={"decision": "approved", "note": note, "csrf_token": token},
    )
    assert decided.status_code == 303
    page = client.get("/followup").get_data(as_text=True)
    assert 'data-decision="approved"' in page and note in page


def test_staff_of_another_unit_cannot_write_to_the_tip(app, client, drain, world, runtime) -> None:  # type: ignore[no-untyped-def]
    reference, _ = _tip(client, drain)
    response = _staff_message(app, world["montreal"], reference, "Trying to reach a tipster.")
    assert response.status_code == 404
    with runtime.sessions() as db:
        assert db.scalars(select(SealedItem).where(SealedItem.kind == "message")).first() is None


def test_a_closed_tip_can_be_read_but_not_answered(client, drain, runtime) -> None:  # type: ignore[no-untyped-def]
    reference, passphrase = _tip(client, drain)
    with runtime.sessions() as db, db.begin():
        db.scalars(select(Tip).where(Tip.reference == reference)).one().status = "closed"
    followup_sign_in(client, reference, passphrase)
    assert 'name="message"' not in client.get("/followup").get_data(as_text=True)
    assert _reply(client, "One more thing I remembered.").status_code == 401


def test_french_tipster_gets_french_pages(client, drain) -> None:  # type: ignore[no-untyped-def]
    reference, passphrase = _tip(client, drain, lang="fr")
    assert "Phrase secrète" in client.get("/followup?lang=fr").get_data(as_text=True)
    wrong = followup_sign_in(client, reference, "pas la bonne phrase", lang="fr")
    assert wrong.status_code == 401
    assert "The reference or the passphrase is not right" not in wrong.get_data(as_text=True)
    signed = followup_sign_in(client, reference, passphrase, lang="fr")
    assert "lang=fr" in signed.headers["Location"]


def test_the_lockout_window_is_fixed_so_it_cannot_be_kept_up(client, drain, runtime) -> None:  # type: ignore[no-untyped-def]
    reference, _ = _tip(client, drain)
    followup_sign_in(client, reference, "not the passphrase")
    (key,) = list(runtime.redis.scan_iter(match="*followup-failures*"))
    runtime.redis.expire(key, 100)  # as if the first failure were 13+ minutes ago
    for _ in range(signin.MAX_FAILURES + 2):
        followup_sign_in(client, reference, "still not the passphrase")
    assert runtime.redis.ttl(key) <= 100  # more failures did not push the window back
