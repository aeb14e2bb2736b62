"""No identifying data reaches the database, Redis, a log, the data directory or a temp file.

Tips carry canaries through every door: the web form (text, a map point, a photo with
GPS, serial number and authors, a PNG with text chunks, a PDF with an author and XMP)
from a canary address and browser; the follow-up page; SMS from a canary phone number
with Twilio's geo guesses, a text menu and an MMS photo; an investigator's question
texted back and a note. Then everything the service keeps is dumped — ``pg_dump`` (or
the SQLite files), every Redis key and value, every log record, the data directory and
the temporary directory the run used — and searched for every canary, raw, in hex, in
base64 at every alignment and URL-encoded. Zero hits.
"""

from __future__ import annotations

import logging
import secrets
import tempfile

import pytest

from tests.intake.scrub.samples import CANARIES as FILE_CANARIES
from tests.intake.scrub.samples import GPS, tagged_jpeg, tagged_pdf, tagged_png
from tests.security.scan import database_dump, files, redis_dump, scan
from tests.support.forms import (
    csrf_token,
    followup_sign_in,
    passphrase_from,
    reference_from,
    sign_in,
)
from tests.support.twilio_signing import signed_headers

pytestmark = pytest.mark.embedded

RUN = secrets.token_hex(4)
IP = "203.0.113.77"
USER_AGENT = f"CanaryBrowser/9.9 (leak-{RUN})"
TEXT = f"CANARY-{RUN}-description"
REPLY = f"CANARY-{RUN}-reply"
QUESTION = f"CANARY-{RUN}-question"
NOTE = f"CANARY-{RUN}-note"
SMS_TEXT = f"CANARY-{RUN}-sms"
LINE = f"{secrets.randbelow(10_000):04d}"
PHONE = f"+1613555{LINE}"
PHONE_FORMS = [
    PHONE,
    PHONE[1:],
    PHONE[2:],
    f"613-555-{LINE}",
    f"(613) 555-{LINE}",
    f"613 555 {LINE}",
]
GEO = {
    "FromCity": f"GEOCITY{RUN}",
    "FromState": f"GEOSTATE{RUN}",
    "FromZip": f"GEOZIP{RUN}",
    "FromCountry": f"GEOCOUNTRY{RUN}",
    "ToCity": f"GEOTOCITY{RUN}",
    "ToZip": f"GEOTOZIP{RUN}",
}
# The point the web tipster gave, and the GPS the photos carried, as decimal text and as
# exiftool writes it.
PLACES = [GPS["lat"].rstrip("0"), GPS["lon"].rstrip("0"), "45 deg 30' 31.82", "73 deg 35' 16.12"]


@pytest.fixture
def scanned_app(runtime, fake_twilio, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """The app with Twilio pointed at the fake, every log record at DEBUG going to a file,
    and every temporary file of the process going to a directory of the test's own."""
    from tipline.app import create_app

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("TMPDIR", str(temp))
    log_file = tmp_path / "all.log"
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    runtime.settings = fake_twilio.configure(runtime.settings)
    try:
        yield create_app(runtime=runtime), temp, log_file
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


def _text(client, runtime, fake, body: str, media=()):  # type: ignore[no-untyped-def]
    inbound = fake.receive(PHONE, body, media=media)
    params = {**inbound.params, **GEO}
    url = runtime.settings.public_url + "/sms/inbound"
    response = client.post(
        "/sms/inbound", data=params, headers=signed_headers(fake.auth_token, url, params)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_no_canary_is_kept_anywhere(
    scanned_app, runtime, fake_twilio, drain, world, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    app, temp, log_file = scanned_app
    samples = tmp_path / "samples"
    samples.mkdir()
    photo = tagged_jpeg(samples)
    png = tagged_png(samples)
    pdf = tagged_pdf(samples, photo.read_bytes())

    # --- the web tipster, from a canary address and browser -------------------------------
    tipster = app.test_client()
    tipster.environ_base.update(
        {"REMOTE_ADDR": IP, "HTTP_USER_AGENT": USER_AGENT, "HTTP_X_FORWARDED_FOR": IP}
    )
    receipt = tipster.post(
        "/tip",
        data={
            "category": "weapons",
            "zone": "",
            "lat": GPS["lat"],
            "lon": "-" + GPS["lon"],
            "description": f"A gun is hidden in the shed. {TEXT}",
            "csrf_token": csrf_token(tipster, "/tip"),
            "attachments": [
                (photo.open("rb"), "IMG_4242.jpg", "image/jpeg"),
                (png.open("rb"), "screenshot.png", "image/png"),
                (pdf.open("rb"), "report.pdf", "application/pdf"),
            ],
        },
        content_type="multipart/form-data",
    )
    page = receipt.get_data(as_text=True)
    assert receipt.status_code == 200, page
    web_ref, passphrase = reference_from(page), passphrase_from(page)

    # --- the SMS tipster: a text, the menu, a photo ---------------------------------------
    sms = app.test_client()
    assert "received" in _text(sms, runtime, fake_twilio, f"Guns sold on Elm Street. {SMS_TEXT}")
    _text(sms, runtime, fake_twilio, "3")
    _text(sms, runtime, fake_twilio, "K1A 0B1")
    _text(sms, runtime, fake_twilio, "This car.", media=[(photo.read_bytes(), "image/jpeg")])
    drain()
    assert fake_twilio.media_fetches, "the MMS photo was never fetched: the path did not run"

    # --- staff read both, ask both tipsters a question, write a note ----------------------
    staff = app.test_client()
    staff.environ_base.update({"REMOTE_ADDR": IP, "HTTP_USER_AGENT": USER_AGENT})
    sign_in(staff, world["chief"])
    queue = staff.get("/staff/").get_data(as_text=True)
    references = [web_ref] + [r for r in _references(queue) if r != web_ref]
    assert len(references) == 2, queue
    for reference in references:
        path = f"/staff/tips/{reference}"
        assert staff.get(path).status_code == 200
        for action, field, text in (("messages", "message", QUESTION), ("notes", "note", NOTE)):
            response = staff.post(
                f"{path}/{action}", data={field: text, "csrf_token": csrf_token(staff, path)}
            )
            assert response.status_code == 303, response.get_data(as_text=True)
    drain()
    assert any(QUESTION in m.body for m in fake_twilio.sent), "the question was never texted"

    # --- the web tipster comes back and answers -------------------------------------------
    assert followup_sign_in(tipster, web_ref, passphrase).status_code == 303
    assert QUESTION in tipster.get("/followup").get_data(as_text=True)
    answer = tipster.post(
        "/followup", data={"message": REPLY, "csrf_token": csrf_token(tipster, "/followup")}
    )
    assert answer.status_code == 303
    followup_sign_in(tipster, web_ref, "a wrong passphrase, for the throttle's counter")
    drain()

    # --- dump everything and search --------------------------------------------------------
    places: dict[str, bytes] = {}
    places.update(database_dump(runtime.engine))
    places.update(redis_dump(runtime.redis))
    places["log file"] = log_file.read_bytes()
    places.update(files(runtime.settings.data_dir, "data dir"))
    places.update(files(temp, "temp dir"))
    everything = b"".join(places.values())
    # The dump is real: it holds what it should (clear routing data, ciphertext).
    assert web_ref.encode() in everything and b"weapons" in everything
    assert any(k.startswith("data dir") for k in places), "no sealed file was written"
    assert len(log_file.read_bytes()) > 0
    canaries = [TEXT, REPLY, QUESTION, NOTE, SMS_TEXT, IP, USER_AGENT, passphrase]
    canaries += PHONE_FORMS + list(GEO.values()) + PLACES + list(FILE_CANARIES)
    hits = scan(places, canaries)
    assert not hits, f"{len(hits)} canaries kept: " + "; ".join(map(str, hits[:10]))
    # Upload spools are removed once the tip is sealed.
    assert not any(temp.iterdir()), f"temp files left behind: {sorted(temp.iterdir())}"


def _references(page: str) -> list[str]:
    import re

    return sorted(set(re.findall(r"/staff/tips/([23456789ABCDEFGHJKMNPQRSTVWXYZ]{10})", page)))


@pytest.mark.parametrize("shift", [0, 1, 2, 5])
def test_the_scan_finds_a_canary_in_every_form_at_any_offset(shift: int) -> None:
    import base64
    import urllib.parse

    canary = f"+1613555{LINE}"
    noise = secrets.token_bytes(shift)
    encodings = {
        "raw": lambda b: b,
        "hex": lambda b: b.hex().encode(),
        "HEX": lambda b: b.hex().upper().encode(),
        "base64": base64.b64encode,
        "base64url": base64.urlsafe_b64encode,
        "urlencoded": lambda b: urllib.parse.quote_plus(b).encode(),
    }
    for name, encode in encodings.items():
        blob = secrets.token_bytes(7) + encode(noise + canary.encode() + b"tail") + b"end"
        assert scan({name: blob}, [canary]), f"{name} at offset {shift} not found"
    assert not scan({"noise": secrets.token_bytes(4096)}, [canary])
