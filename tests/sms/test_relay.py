"""The worker's side of SMS, through the real twilio SDK against a local fake of Twilio:
MMS media fetched, scrubbed and sealed; investigators' questions texted through the
sealed reply handle; every message deleted at Twilio; reply handles expiring.

Inbound webhooks are signed with the SDK's RequestValidator; the real RQ worker runs
the jobs (``drain``); nothing of ours is mocked.
"""

from __future__ import annotations

import base64
import io
import re
from datetime import timedelta

import pytest
from PIL import Image
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from sqlalchemy import func, select, update

from tests.intake.scrub.samples import assert_clean, tagged_jpeg
from tests.support.forms import csrf_token, sign_in
from tests.support.twilio_signing import signed_headers
from tipline import outbox
from tipline.crypto import hierarchy as h
from tipline.db import transaction
from tipline.models import AuditEntry, OutboxEntry, ReplyHandle, SealedItem, Tip
from tipline.models.base import utcnow
from tipline.outbox import Work
from tipline.sms import outbound
from workers import jobs
from workers.queues import work_job_id

pytestmark = pytest.mark.embedded

NUMBER = "+16135550188"
NATIONAL = ("6135550188", "613-555-0188", "(613) 555-0188")
GEO = {"FromCity": "GEOCANARY-OTTAWA", "FromZip": "GEOCANARY-K1A", "FromState": "GEOCANARY-ON"}


@pytest.fixture
def twilio_app(runtime, fake_twilio):  # type: ignore[no-untyped-def]
    from tipline.app import create_app

    runtime.settings = fake_twilio.configure(runtime.settings)
    return create_app(runtime=runtime)


def _text(client, runtime, fake, body: str, media=(), number: str = NUMBER):  # type: ignore[no-untyped-def]
    inbound = fake.receive(number, body, media=media)
    params = {**inbound.params, **GEO}
    url = runtime.settings.public_url + "/sms/inbound"
    response = client.post(
        "/sms/inbound", data=params, headers=signed_headers(fake.auth_token, url, params)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return inbound, response.get_data(as_text=True)


def _status(client, runtime, fake, sid: str, status: str):  # type: ignore[no-untyped-def]
    params = fake.status_params(sid, status)
    url = runtime.settings.public_url + "/sms/status"
    return client.post(
        "/sms/status", data=params, headers=signed_headers(fake.auth_token, url, params)
    )


def _tip(runtime) -> Tip:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        return session.scalars(select(Tip)).one()


def _outbox(runtime) -> list[tuple[str, int | None]]:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        return [(e.job, e.tip_id) for e in session.scalars(select(OutboxEntry))]


def _open_files(runtime, recovery_key, tip: Tip) -> list[tuple[dict, bytes]]:  # type: ignore[no-untyped-def]
    """Every attachment of ``tip``, opened with the recovery key: (metadata, content)."""
    import json

    with runtime.sessions() as session:
        grant = next(g for g in session.get(Tip, tip.id).grants if g.holder == "recovery")
        tip_key = h.open_tip_key(recovery_key, grant.sealed_key, tip.reference, "recovery", 1)
        items = session.scalars(
            select(SealedItem).where(SealedItem.tip_id == tip.id, SealedItem.kind == "attachment")
        ).all()
        files = []
        for item in items:
            meta = json.loads(
                h.open_tip_item(
                    tip_key, tip.reference, "attachment", item.item_key, item.ciphertext
                )
            )
            out = io.BytesIO()
            with runtime.store.open(item.blob_path) as src:
                h.open_tip_stream(tip_key, tip.reference, "attachment", item.item_key, src, out)
            files.append((meta, out.getvalue()))
        return files


def test_an_mms_photo_is_scrubbed_sealed_then_deleted_at_twilio(
    twilio_app, runtime, fake_twilio, drain, recovery_key, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    fake_twilio.media_redirect = True  # Twilio redirects downloads to its media store
    photo = tagged_jpeg(tmp_path).read_bytes()
    client = twilio_app.test_client()
    inbound, reply = _text(
        client, runtime, fake_twilio, "The car in this photo.", [(photo, "image/jpeg")]
    )
    assert "photos will be added" in reply
    assert fake_twilio.media_fetches == []  # the webhook answers at once; the worker fetches

    drain()
    tip = _tip(runtime)
    [(meta, content)] = _open_files(runtime, recovery_key, tip)
    assert meta["type"] == "image/jpeg" and meta["name"] == "mms-1.jpg"
    served = tmp_path / "served.jpg"
    served.write_bytes(content)
    assert_clean(served)  # exiftool finds no GPS, serial number or author
    assert Image.open(served).size == Image.open(io.BytesIO(photo)).size
    # Credentials went to Twilio's API only, never to the media store it redirected to.
    assert all(r.auth_ok for r in fake_twilio.media_fetches)
    assert fake_twilio.cdn_fetches and not any(r.auth_present for r in fake_twilio.cdn_fetches)
    assert fake_twilio.deleted_messages == [inbound.message.sid]  # message and media gone
    assert not fake_twilio.exists(inbound.message.sid)
    assert _outbox(runtime) == []
    assert fake_twilio.sent == []  # nothing to tell the tipster


def test_media_we_cannot_clean_is_never_stored_and_the_tipster_is_told(
    twilio_app, runtime, fake_twilio, drain, recovery_key
) -> None:  # type: ignore[no-untyped-def]
    client = twilio_app.test_client()
    audio = b"#!AMR\n" + bytes(range(256)) * 8
    inbound, _ = _text(client, runtime, fake_twilio, "", [(audio, "audio/amr")])  # media only
    drain()
    tip = _tip(runtime)
    assert _open_files(runtime, recovery_key, tip) == []
    [notice] = fake_twilio.sent
    assert notice.to == NUMBER and "not kept" in notice.body
    assert fake_twilio.deleted_messages[0] == inbound.message.sid
    assert tip.channel == "sms"


def test_a_french_tipster_is_told_in_french(twilio_app, runtime, fake_twilio, drain) -> None:  # type: ignore[no-untyped-def]
    client = twilio_app.test_client()
    _text(client, runtime, fake_twilio, "Bonjour, voici une photo.", [(b"\x00" * 64, "image/jpeg")])
    drain()
    [notice] = fake_twilio.sent
    assert "Ligne" in notice.body or "fichier" in notice.body, notice.body


def test_too_large_media_is_refused_without_reading_it_all(
    twilio_app, runtime, fake_twilio, drain, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    runtime.settings = runtime.settings.with_overrides(max_attachment_bytes=4096)
    client = twilio_app.test_client()
    big = tagged_jpeg(tmp_path, size=(800, 600)).read_bytes()
    assert len(big) > 4096
    _text(client, runtime, fake_twilio, "A big photo.", [(big, "image/jpeg")])
    drain()
    [notice] = fake_twilio.sent
    assert "too large" in notice.body
    with runtime.sessions() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(SealedItem).where(SealedItem.kind == "attachment")
            )
            == 0
        )


def test_twilio_down_during_a_media_fetch_keeps_the_work_for_a_retry(
    twilio_app, runtime, fake_twilio, drain, recovery_key, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    client = twilio_app.test_client()
    photo = tagged_jpeg(tmp_path).read_bytes()
    inbound, _ = _text(client, runtime, fake_twilio, "Photo of the plate.", [(photo, "image/jpeg")])
    [(job, tip_id)] = [w for w in _outbox(runtime) if w[0] != outbox.ROUTE_TIP]
    assert job == outbox.FETCH_MEDIA
    with runtime.sessions() as session:
        fetch_id = session.scalars(select(OutboxEntry.id).where(OutboxEntry.job == job)).one()
    fake_twilio.fail_next(503, 20500, "Service unavailable")
    drain()  # route_tip runs; the fetch fails and is scheduled for a retry
    rq_job = Job.fetch(
        work_job_id(runtime, Work(job, fetch_id, tip_id)),
        connection=runtime.redis,
        serializer=JSONSerializer,
    )
    assert rq_job.get_status() == JobStatus.SCHEDULED
    assert fake_twilio.deleted_messages == []  # nothing deleted before it is sealed
    assert jobs.fetch_media(fetch_id) == 1  # the retry
    assert jobs.fetch_media(fetch_id) == 0  # a second delivery does nothing
    assert len(_open_files(runtime, recovery_key, _tip(runtime))) == 1


def test_a_delete_too_soon_is_retried_until_twilio_allows_it(
    twilio_app, runtime, fake_twilio, drain
) -> None:  # type: ignore[no-untyped-def]
    fake_twilio.too_soon_first_delete = True
    client = twilio_app.test_client()
    inbound, _ = _text(client, runtime, fake_twilio, "HELP")
    with runtime.sessions() as session:
        purge_id = session.scalars(select(OutboxEntry.id)).one()
    drain()
    assert fake_twilio.exists(inbound.message.sid)  # 20009: not yet
    status = Job.fetch(
        work_job_id(runtime, Work(outbox.PURGE_MESSAGE, purge_id)),
        connection=runtime.redis,
        serializer=JSONSerializer,
    ).get_status()
    assert status == JobStatus.SCHEDULED  # backoff, with the row kept
    assert jobs.purge_message(purge_id) == "deleted"
    assert not fake_twilio.exists(inbound.message.sid)
    assert jobs.purge_message(purge_id) == "done before"
    assert _outbox(runtime) == []


def test_keywords_are_deleted_at_twilio_too(twilio_app, runtime, fake_twilio, drain) -> None:  # type: ignore[no-untyped-def]
    client = twilio_app.test_client()
    sids = [_text(client, runtime, fake_twilio, word)[0].message.sid for word in ("HELP", "STOP")]
    drain()
    assert sorted(fake_twilio.deleted_messages) == sorted(sids)
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Tip)) == 0


def _sms_tip_routed(client, runtime, fake, drain) -> Tip:  # type: ignore[no-untyped-def]
    _text(client, runtime, fake, "Guns are sold from the white house on Elm Street.")
    _text(client, runtime, fake, "3")
    _text(client, runtime, fake, "K1A 0B1")
    drain()
    return _tip(runtime)


def _ask(staff, reference: str, text: str):  # type: ignore[no-untyped-def]
    path = f"/staff/tips/{reference}"
    return staff.post(
        f"{path}/messages", data={"message": text, "csrf_token": csrf_token(staff, path)}
    )


def test_an_investigator_question_is_texted_and_the_number_never_shown(
    twilio_app, runtime, fake_twilio, drain, world, caplog
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level("DEBUG")
    client = twilio_app.test_client()
    tip = _sms_tip_routed(client, runtime, fake_twilio, drain)
    deleted_inbound = len(fake_twilio.deleted_messages)
    assert deleted_inbound == 3  # every inbound text, once committed

    staff = twilio_app.test_client()
    sign_in(staff, world["all"])
    response = _ask(staff, tip.reference, "What colour was the car?")
    assert response.status_code == 303 and "sent=sms" in response.headers["Location"]
    page = staff.get(response.headers["Location"]).get_data(as_text=True)
    assert "queued as a text" in page and "What colour was the car?" in page
    assert not any(form in page for form in (NUMBER, NUMBER[1:], *NATIONAL))

    drain()
    [sent] = fake_twilio.sent
    assert sent.to == NUMBER and sent.body == "What colour was the car?"
    assert sent.from_ == fake_twilio.from_number
    assert sent.status_callback == runtime.settings.public_url + "/sms/status"

    # Delivered: the status callback asks for the outbound message to be deleted.
    assert _status(client, runtime, fake_twilio, sent.sid, "delivered").status_code == 204
    drain()
    assert sent.sid in fake_twilio.deleted_messages
    # The purge scheduled when it was sent (the fallback) finds it gone: no error.
    with runtime.sessions() as session:
        fallback = session.scalars(select(OutboxEntry.id)).all()
    for outbox_id in fallback:
        assert jobs.purge_message(outbox_id) in ("already_gone", "deleted")
    assert _outbox(runtime) == []

    # The tipster answers; the answer is added to the tip, not echoed anywhere.
    _text(client, runtime, fake_twilio, "It was red.")
    _assert_no_number_anywhere(runtime, caplog)


def test_a_forged_status_callback_deletes_nothing(twilio_app, runtime, fake_twilio) -> None:  # type: ignore[no-untyped-def]
    client = twilio_app.test_client()
    params = {"MessageSid": "SM" + "c" * 32, "MessageStatus": "delivered"}
    response = client.post("/sms/status", data=params, headers={"X-Twilio-Signature": "Zm9yZ2Vk"})
    assert response.status_code == 403
    assert _outbox(runtime) == []


def test_a_tipster_who_opted_out_at_twilio_loses_the_handle(
    twilio_app, runtime, fake_twilio, drain, world
) -> None:  # type: ignore[no-untyped-def]
    client = twilio_app.test_client()
    tip = _sms_tip_routed(client, runtime, fake_twilio, drain)
    fake_twilio.opted_out.add(NUMBER)  # the carrier's STOP, which we never saw
    staff = twilio_app.test_client()
    sign_in(staff, world["all"])
    _ask(staff, tip.reference, "Are you still there?")
    drain()
    assert fake_twilio.sent == []
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ReplyHandle)) == 0
    page = staff.get(f"/staff/tips/{tip.reference}").get_data(as_text=True)
    assert 'id="sms-unreachable"' in page
    assert "Are you still there?" in page  # the question itself is kept, sealed


def test_after_stop_a_question_is_kept_but_not_texted(
    twilio_app, runtime, fake_twilio, drain, world
) -> None:  # type: ignore[no-untyped-def]
    client = twilio_app.test_client()
    tip = _sms_tip_routed(client, runtime, fake_twilio, drain)
    _text(client, runtime, fake_twilio, "STOP")
    staff = twilio_app.test_client()
    sign_in(staff, world["all"])
    response = _ask(staff, tip.reference, "One more question?")
    assert "sent=sms-unreachable" in response.headers["Location"]
    drain()
    assert fake_twilio.sent == []
    assert [job for job, _ in _outbox(runtime)] == []


def test_a_text_too_long_for_sms_is_refused_clearly(
    twilio_app, runtime, fake_twilio, drain, world
) -> None:  # type: ignore[no-untyped-def]
    client = twilio_app.test_client()
    tip = _sms_tip_routed(client, runtime, fake_twilio, drain)
    staff = twilio_app.test_client()
    sign_in(staff, world["all"])
    response = _ask(staff, tip.reference, "x" * 1601)
    assert response.status_code == 413
    assert "1600" in response.get_data(as_text=True)
    with runtime.sessions() as session:
        kinds = session.scalars(select(SealedItem.kind).where(SealedItem.tip_id == tip.id)).all()
    assert "x" * 1601 not in kinds and [job for job, _ in _outbox(runtime)] == []
    assert list(kinds).count("message") == 1  # only the tipster's postal code


def test_without_twilio_credentials_the_text_goes_to_the_log_redacted(
    twilio_app, runtime, fake_twilio, drain, caplog
) -> None:  # type: ignore[no-untyped-def]
    client = twilio_app.test_client()
    tip = _sms_tip_routed(client, runtime, fake_twilio, drain)
    runtime.settings = runtime.settings.with_overrides(
        twilio_account_sid=None, twilio_auth_token=None, twilio_from_number=None
    )
    with transaction(runtime.sessions) as session:
        work = outbound.queue_text(session, runtime, session.get(Tip, tip.id), "Secret question")
    caplog.set_level("INFO")
    assert jobs.send_sms(work.outbox_id) == outbound.LOGGED
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert tip.reference in logged and "withheld" in logged
    assert "Secret question" not in logged and NUMBER not in logged and NUMBER[1:] not in logged


def test_reply_handles_expire_after_the_conversation_days(
    twilio_app, runtime, fake_twilio, drain
) -> None:  # type: ignore[no-untyped-def]
    client = twilio_app.test_client()
    _text(client, runtime, fake_twilio, "Old conversation about a stolen bike.")
    _text(client, runtime, fake_twilio, "New conversation about a fire.", number="+16135550199")
    days = runtime.settings.sms_conversation_days
    with transaction(runtime.sessions) as session:
        oldest = session.scalars(select(ReplyHandle).order_by(ReplyHandle.id)).first()
        session.execute(
            update(ReplyHandle)
            .where(ReplyHandle.id == oldest.id)
            .values(last_message_at=utcnow() - timedelta(days=days, hours=2))
        )
    assert jobs.expire_reply_handles() == 1
    assert jobs.expire_reply_handles() == 0
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ReplyHandle)) == 1
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "sms.handles_expired")
        ).one()
        assert entry.subject == "1"


def test_the_sweeper_enqueues_twilio_work_that_never_reached_redis(
    twilio_app, runtime, fake_twilio, drain
) -> None:  # type: ignore[no-untyped-def]
    from workers.queues import sms_queue
    from workers.sweeper import sweep

    client = twilio_app.test_client()
    inbound, _ = _text(client, runtime, fake_twilio, "HELP")
    sms_queue(runtime).empty()  # as if Redis lost it, or was down at the time
    drain()
    assert fake_twilio.exists(inbound.message.sid)
    assert sweep(runtime) == 1
    drain()
    assert not fake_twilio.exists(inbound.message.sid)
    assert _outbox(runtime) == []


def test_outbox_payloads_are_sealed_and_bound_to_their_row(
    twilio_app, runtime, fake_twilio
) -> None:  # type: ignore[no-untyped-def]
    from tipline.crypto import SealError, relay

    client = twilio_app.test_client()
    inbound, _ = _text(
        client, runtime, fake_twilio, "A tip with a photo.", [(b"x" * 10, "image/png")]
    )
    with runtime.sessions() as session:
        entry = session.scalars(
            select(OutboxEntry).where(OutboxEntry.job == outbox.FETCH_MEDIA)
        ).one()
    assert inbound.message.sid.encode() not in entry.payload
    assert (
        outbox.payload_of(entry, runtime.settings.relay_key)["message_sid"] == inbound.message.sid
    )
    with pytest.raises(SealError):  # moved to another tip or job, it no longer opens
        relay.open_work(
            runtime.settings.relay_key, outbox.FETCH_MEDIA, entry.tip_id + 1, entry.payload
        )
    with pytest.raises(SealError):
        relay.open_work(
            runtime.settings.relay_key, outbox.PURGE_MESSAGE, entry.tip_id, entry.payload
        )


def _assert_no_number_anywhere(runtime, caplog) -> None:  # type: ignore[no-untyped-def]
    from tests.security.scan import database_dump, redis_dump

    logs = "\n".join(r.getMessage() for r in caplog.records).encode()
    files = b"".join(p.read_bytes() for p in runtime.settings.data_dir.rglob("*") if p.is_file())
    places = {
        "database": b"".join(database_dump(runtime.engine).values()),
        "redis": b"".join(redis_dump(runtime.redis).values()),
        "logs": logs,
        "data dir": files,
    }
    assert logs
    for place, blob in places.items():
        for value in (NUMBER, NUMBER[1:], *NATIONAL, *GEO.values()):
            for form in (
                value.encode(),
                base64.b64encode(value.encode()),
                value.encode().hex().encode(),
            ):
                assert form not in blob, f"{value!r} found in {place}"
        assert not re.search(rb"\b6135550188\b", blob)


def test_the_provider_sweep_deletes_only_old_messages_of_the_tip_line(
    twilio_app, runtime, fake_twilio
) -> None:  # type: ignore[no-untyped-def]
    from tipline.sms.outbound import PROVIDER_GRACE

    # twilio_app points the settings at the fake. The database was down for this one: the tipster was asked to send it again, and
    # the message stayed at Twilio with their number.
    missed = fake_twilio.receive(NUMBER, "Lost while the database was down.").message
    fresh = fake_twilio.receive(NUMBER, "Still being handled.").message
    other = fake_twilio.receive(NUMBER, "For another app.", to="+15145559999").message
    sent_by_us = fake_twilio.receive("+15005550006", "A reply we sent.", to=NUMBER).message
    old = utcnow() - PROVIDER_GRACE - timedelta(hours=1)
    for message in (missed, other, sent_by_us):
        message.sent_at = old
    assert jobs.sweep_provider() == 2
    assert sorted(fake_twilio.deleted_messages) == sorted([missed.sid, sent_by_us.sid])
    assert fake_twilio.exists(fresh.sid) and fake_twilio.exists(other.sid)
    assert jobs.sweep_provider() == 0


# --- what the security review found: each test reproduces one of its findings ---------


def test_stop_after_done_still_deletes_the_handle(
    twilio_app, runtime, fake_twilio, drain, world
) -> None:  # type: ignore[no-untyped-def]
    client = twilio_app.test_client()
    tip = _sms_tip_routed(client, runtime, fake_twilio, drain)
    _text(client, runtime, fake_twilio, "DONE")
    _text(client, runtime, fake_twilio, "STOP")
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ReplyHandle)) == 0
    staff = twilio_app.test_client()
    sign_in(staff, world["all"])
    assert "sent=sms-unreachable" in _ask(staff, tip.reference, "Still there?").headers["Location"]
    drain()
    assert fake_twilio.sent == []


def test_stop_deletes_the_handles_of_every_tip_from_that_number(
    twilio_app, runtime, fake_twilio, drain
) -> None:  # type: ignore[no-untyped-def]
    client = twilio_app.test_client()
    _text(client, runtime, fake_twilio, "First tip about a stolen boat.")
    _text(client, runtime, fake_twilio, "NEW")
    _text(client, runtime, fake_twilio, "Second tip about a burned car.")
    _text(client, runtime, fake_twilio, "Someone else's tip.", number="+16135550199")
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Tip)) == 3
    _text(client, runtime, fake_twilio, "ARRÊT")
    with runtime.sessions() as session:
        assert (
            session.scalar(select(func.count()).select_from(ReplyHandle)) == 1
        )  # the other number's


def test_a_stop_the_database_missed_is_honoured_by_the_worker(
    twilio_app, runtime, fake_twilio, drain
) -> None:  # type: ignore[no-untyped-def]
    from tipline.app import create_app
    from tipline.runtime import Runtime

    client = twilio_app.test_client()
    tip = _sms_tip_routed(client, runtime, fake_twilio, drain)
    broken = Runtime(
        runtime.settings.with_overrides(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    )
    broken.__dict__["redis"] = runtime.redis
    _text(create_app(runtime=broken).test_client(), broken, fake_twilio, "STOP")
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(func.count()).select_from(ReplyHandle)) == 1  # DB missed it
        work = outbound.queue_text(session, runtime, session.get(Tip, tip.id), "Hello?")
    assert jobs.send_sms(work.outbox_id) == outbound.UNREACHABLE
    assert fake_twilio.sent == []
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ReplyHandle)) == 0


def test_an_answer_after_done_joins_the_tip_and_new_starts_another(
    twilio_app, runtime, fake_twilio, drain
) -> None:  # type: ignore[no-untyped-def]
    client = twilio_app.test_client()
    tip = _sms_tip_routed(client, runtime, fake_twilio, drain)
    _, done = _text(client, runtime, fake_twilio, "FIN")
    assert "NEW" in done
    _, reply = _text(client, runtime, fake_twilio, "It was red.")
    assert "Added to your tip" in reply
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Tip)) == 1
        assert session.get(Tip, tip.id).reply_waiting
    _text(client, runtime, fake_twilio, "NEW")
    _, started = _text(client, runtime, fake_twilio, "A different matter: a break-in.")
    assert "Reply with a number" in started
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Tip)) == 2


def test_a_refused_media_download_keeps_the_message_for_a_retry(
    twilio_app, runtime, fake_twilio, drain, recovery_key, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    client = twilio_app.test_client()
    photo = tagged_jpeg(tmp_path).read_bytes()
    inbound, _ = _text(client, runtime, fake_twilio, "Photo.", [(photo, "image/jpeg")])
    with runtime.sessions() as session:
        fetch_id = session.scalars(
            select(OutboxEntry.id).where(OutboxEntry.job == outbox.FETCH_MEDIA)
        ).one()
    fake_twilio.fail_next(401, 20003, "Authenticate")  # a rotated auth token, say
    from tipline.sms.provider import ProviderError

    with pytest.raises(ProviderError):
        jobs.fetch_media(fetch_id)
    assert fake_twilio.exists(inbound.message.sid) and fake_twilio.sent == []
    assert jobs.fetch_media(fetch_id) == 1  # fixed: the retry keeps the photo
    assert len(_open_files(runtime, recovery_key, _tip(runtime))) == 1


def test_the_provider_sweep_leaves_messages_whose_media_waits(
    twilio_app, runtime, fake_twilio
) -> None:  # type: ignore[no-untyped-def]
    from tipline.sms.outbound import PROVIDER_GRACE

    client = twilio_app.test_client()
    inbound, _ = _text(client, runtime, fake_twilio, "Photo.", [(b"x" * 64, "image/png")])
    inbound.message.sent_at = utcnow() - PROVIDER_GRACE - timedelta(hours=1)
    assert jobs.sweep_provider() == 0
    assert fake_twilio.exists(inbound.message.sid)


def test_the_provider_sweep_covers_a_messaging_services_numbers_only(runtime, fake_twilio) -> None:  # type: ignore[no-untyped-def]
    from tipline.sms.outbound import PROVIDER_GRACE

    service = "MG" + "1" * 32
    runtime.settings = fake_twilio.configure(
        runtime.settings, messaging_service_sid=service, from_number=None
    )
    fake_twilio.service_numbers[service] = ["+15145550001", "+15145550002"]
    old = utcnow() - PROVIDER_GRACE - timedelta(hours=1)
    ours = [
        fake_twilio.receive(NUMBER, "To the first.", to="+15145550001").message,
        fake_twilio.receive("+15145550002", "From the second.", to=NUMBER).message,
    ]
    other = fake_twilio.receive(NUMBER, "Another app.", to="+15145559999").message
    for message in (*ours, other):
        message.sent_at = old
    assert jobs.sweep_provider() == 2
    assert sorted(fake_twilio.deleted_messages) == sorted(m.sid for m in ours)
    assert fake_twilio.exists(other.sid)


def test_our_twiml_answers_are_deleted_once_final(twilio_app, runtime, fake_twilio, drain) -> None:  # type: ignore[no-untyped-def]
    client = twilio_app.test_client()
    _, reply = _text(client, runtime, fake_twilio, "A tip about a red truck.")
    assert f'statusCallback="{runtime.settings.public_url}/sms/status"' in reply
    # Twilio creates our answer as a message and reports on it to that URL.
    answer = fake_twilio.receive("+15005550006", "Tip line: received…", to=NUMBER).message
    assert _status(client, runtime, fake_twilio, answer.sid, "sent").status_code == 204
    drain()
    assert fake_twilio.exists(answer.sid)  # not final yet: nothing to do
    assert _status(client, runtime, fake_twilio, answer.sid, "delivered").status_code == 204
    drain()
    assert not fake_twilio.exists(answer.sid)


def test_a_text_is_never_sent_twice(twilio_app, runtime, fake_twilio, drain) -> None:  # type: ignore[no-untyped-def]
    client = twilio_app.test_client()
    tip = _sms_tip_routed(client, runtime, fake_twilio, drain)
    with transaction(runtime.sessions) as session:
        work = outbound.queue_text(session, runtime, session.get(Tip, tip.id), "Colour?")
    # Enqueued twice (the sweeper racing the first enqueue): one job.
    from workers.queues import enqueue_work, sms_queue

    enqueue_work(runtime, work)
    enqueue_work(runtime, work)
    assert sms_queue(runtime).job_ids.count(work_job_id(runtime, work)) == 1
    # Sent, then the worker dies before recording it: the next delivery does not resend.
    with transaction(runtime.sessions) as session:
        session.execute(
            update(OutboxEntry).where(OutboxEntry.id == work.outbox_id).values(claimed=True)
        )
    drain()
    assert fake_twilio.sent == []
    with runtime.sessions() as session:
        assert session.get(OutboxEntry, work.outbox_id).claimed  # left for a person


def test_twilio_unreachable_before_sending_retries_the_text(
    twilio_app, runtime, fake_twilio, drain
) -> None:  # type: ignore[no-untyped-def]
    from tipline.sms.provider import Unavailable

    client = twilio_app.test_client()
    tip = _sms_tip_routed(client, runtime, fake_twilio, drain)
    with transaction(runtime.sessions) as session:
        work = outbound.queue_text(session, runtime, session.get(Tip, tip.id), "Colour?")
    base = runtime.settings.twilio_api_base
    runtime.settings = runtime.settings.with_overrides(twilio_api_base="http://127.0.0.1:9")
    with pytest.raises(Unavailable):
        jobs.send_sms(work.outbox_id)
    runtime.settings = runtime.settings.with_overrides(twilio_api_base=base)
    with runtime.sessions() as session:
        assert not session.get(OutboxEntry, work.outbox_id).claimed  # safe to retry
    assert jobs.send_sms(work.outbox_id) == outbound.SENT
    assert [m.body for m in fake_twilio.sent] == ["Colour?"]


def test_rows_that_gave_up_never_block_the_sweep(
    twilio_app, runtime, fake_twilio, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from workers import sweeper
    from workers.queues import sms_queue

    monkeypatch.setattr(sweeper, "BATCH", 2)
    client = twilio_app.test_client()
    for word in ("HELP", "HELP", "HELP"):
        _text(client, runtime, fake_twilio, word)
    with transaction(runtime.sessions) as session:
        session.execute(update(OutboxEntry).values(attempts=sweeper.MAX_ATTEMPTS))
    last, _ = _text(client, runtime, fake_twilio, "HELP")
    sms_queue(runtime).empty()  # the newest row's job was lost
    assert sweeper.sweep(runtime) == 1
