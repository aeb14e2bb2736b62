"""tipline.sms.provider against a local fake of Twilio's REST API, through the real SDK."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator

from tests.support.fake_twilio import FakeTwilio, fake_twilio_server, new_sid
from tests.support.twilio_signing import sign_twilio_request, signed_headers
from tipline.settings import Settings
from tipline.sms import provider
from tipline.sms.provider import (
    DeleteResult,
    MediaTooLarge,
    OptedOut,
    ProviderError,
    RebasingHttpClient,
    TooSoon,
    Unavailable,
)

pytestmark = pytest.mark.embedded

TIPSTER = "+15557654321"
STATUS_URL = "https://tips.example.org/sms/status"


@pytest.fixture
def base_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        config_dir=tmp_path,
        keys_dir=tmp_path,
        database_url="sqlite://",
        redis_url=None,
        public_url="https://tips.example.org",
        secret_key=b"s" * 32,
        relay_key=b"r" * 32,
        pepper=b"p" * 32,
    )


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with fake_twilio_server() as server:
        yield server


@pytest.fixture
def settings(fake: FakeTwilio, base_settings: Settings) -> Settings:
    return fake.configure(base_settings)


@pytest.fixture
def client(settings: Settings):  # type: ignore[no-untyped-def]
    made = provider.make_client(settings)
    assert made is not None
    return made


# --- the client --------------------------------------------------------------------------


def test_no_credentials_means_no_client(base_settings: Settings) -> None:
    from dataclasses import replace

    assert provider.make_client(base_settings) is None
    half = replace(base_settings, twilio_account_sid=new_sid("AC"))
    assert provider.make_client(half) is None
    both = replace(half, twilio_auth_token="token")
    assert provider.make_client(both) is not None


def test_requests_go_to_the_configured_base(
    fake: FakeTwilio, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_EDGE", "sydney")  # the SDK would read it; we must not
    monkeypatch.setenv("TWILIO_REGION", "au1")
    client = provider.make_client(settings)
    assert client is not None and client.edge is None and client.region is None
    provider.send_sms(client, settings, TIPSTER, "hi", None)
    (call,) = fake.requests
    assert call.host == f"127.0.0.1:{fake.port}"
    assert call.method == "POST"
    assert call.path == f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    assert call.auth_ok


def test_rebase_keeps_path_and_query() -> None:
    http = RebasingHttpClient("http://127.0.0.1:9/prefix/")
    assert (
        http.rebase("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=2")
        == "http://127.0.0.1:9/prefix/2010-04-01/Accounts/AC1/Messages.json?PageSize=2"
    )
    assert RebasingHttpClient(None).rebase("https://api.twilio.com/x") == "https://api.twilio.com/x"


def test_wrong_token_is_refused(fake: FakeTwilio, base_settings: Settings) -> None:
    from dataclasses import replace

    settings = replace(fake.configure(base_settings), twilio_auth_token="wrong")
    client = provider.make_client(settings)
    assert client is not None
    with pytest.raises(ProviderError) as caught:
        provider.send_sms(client, settings, TIPSTER, "hi", None)
    assert (caught.value.status, caught.value.code) == (401, 20003)
    assert not caught.value.retryable
    assert fake.sent == []
    assert [r.auth_ok for r in fake.requests] == [False]


def test_unreachable_twilio_is_retryable(base_settings: Settings) -> None:
    from dataclasses import replace

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = replace(
        base_settings,
        twilio_account_sid=new_sid("AC"),
        twilio_auth_token="token",
        twilio_from_number="+15005550006",
        twilio_api_base=f"http://127.0.0.1:{port}",
    )
    client = provider.make_client(settings)
    assert client is not None
    with pytest.raises(Unavailable) as caught:
        provider.send_sms(client, settings, TIPSTER, "hi", None)
    assert caught.value.retryable


# --- sending -------------------------------------------------------------------------------


def test_send_from_number(fake: FakeTwilio, settings: Settings, client) -> None:
    sid = provider.send_sms(client, settings, TIPSTER, "Thank you. Reply STOP to end.", STATUS_URL)
    (sent,) = fake.sent
    assert sid == sent.sid and sid.startswith("SM") and len(sid) == 34
    assert (sent.to, sent.from_, sent.body) == (
        TIPSTER,
        fake.from_number,
        "Thank you. Reply STOP to end.",
    )
    assert sent.status_callback == STATUS_URL
    assert sent.messaging_service_sid is None
    (call,) = fake.calls("POST")
    assert "MessagingServiceSid" not in call.form


def test_send_through_messaging_service(fake: FakeTwilio, base_settings: Settings) -> None:
    service = new_sid("MG")
    settings = fake.configure(base_settings, messaging_service_sid=service)
    client = provider.make_client(settings)
    assert client is not None
    sid = provider.send_sms(client, settings, TIPSTER, "hello", None)
    (sent,) = fake.sent
    assert sid == sent.sid
    assert sent.messaging_service_sid == service
    assert sent.from_ is None  # the service picks the sender, not TWILIO_FROM_NUMBER
    (call,) = fake.calls("POST")
    assert "From" not in call.form and "StatusCallback" not in call.form


def test_send_without_a_sender_is_refused_before_calling(
    fake: FakeTwilio, base_settings: Settings
) -> None:
    settings = fake.configure(base_settings, from_number=None)
    client = provider.make_client(settings)
    assert client is not None
    with pytest.raises(ProviderError):
        provider.send_sms(client, settings, TIPSTER, "hello", None)
    assert fake.requests == []


def test_opted_out_recipient(fake: FakeTwilio, settings: Settings, client) -> None:
    fake.opted_out.add(TIPSTER)
    with pytest.raises(OptedOut) as caught:
        provider.send_sms(client, settings, TIPSTER, "hello", None)
    assert (caught.value.code, caught.value.status) == (21610, 400)
    assert not caught.value.retryable
    assert fake.sent == []
    assert provider.send_sms(client, settings, "+15550001111", "hello", None)  # others still work


def test_server_errors_are_retryable(fake: FakeTwilio, settings: Settings, client) -> None:
    fake.fail_next(503, 20503, "Service unavailable")
    with pytest.raises(ProviderError) as caught:
        provider.send_sms(client, settings, TIPSTER, "hello", None)
    assert caught.value.retryable and caught.value.status == 503
    assert provider.send_sms(client, settings, TIPSTER, "hello", None)


def test_no_number_or_body_in_errors_or_logs(
    fake: FakeTwilio, settings: Settings, client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the SDK's and urllib3's loggers too
    body = "the red car is behind the bakery"
    # Twilio's own messages can quote the number: it must not reach our exception.
    fake.fail_next(400, 21211, f"The 'To' number {TIPSTER} is not a valid phone number.")
    with pytest.raises(ProviderError) as caught:
        provider.send_sms(client, settings, TIPSTER, body, STATUS_URL)
    error = caught.value
    assert error.code == 21211
    assert TIPSTER not in str(error) and TIPSTER not in repr(error.args)
    assert error.__cause__ is None and error.__suppress_context__  # SDK exception not shown
    sid = provider.send_sms(client, settings, TIPSTER, body, STATUS_URL)
    provider.delete_message(client, sid)
    assert sid in caplog.text  # the log does say what happened, by SID
    for secret in (TIPSTER, TIPSTER.lstrip("+"), body, "bakery", fake.auth_token):
        assert secret not in caplog.text


# --- deleting -----------------------------------------------------------------------------


def test_delete_too_soon_then_deleted_then_already_gone(
    fake: FakeTwilio, settings: Settings, client
) -> None:
    sid = provider.send_sms(client, settings, TIPSTER, "hello", None)
    fake.too_soon_first_delete = True
    with pytest.raises(TooSoon) as caught:
        provider.delete_message(client, sid)
    assert caught.value.code == 20009 and caught.value.retryable
    assert fake.exists(sid)
    assert provider.delete_message(client, sid) is DeleteResult.DELETED
    assert not fake.exists(sid)
    assert provider.delete_message(client, sid) is DeleteResult.ALREADY_GONE
    assert fake.deleted_messages == [sid]
    deletes = fake.calls("DELETE")
    assert len(deletes) == 3 and all(r.auth_ok for r in deletes)
    assert deletes[0].path == f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{sid}.json"
    assert all(DeleteResult)  # both results are truthy: "gone" either way


def test_delete_of_an_inbound_message_takes_its_media(
    fake: FakeTwilio, settings: Settings, client
) -> None:
    inbound = fake.receive(TIPSTER, "look", media=[(b"\xff\xd8jpeg", "image/jpeg")])
    fake.too_soon.add(inbound.message.sid)
    with pytest.raises(TooSoon):
        provider.delete_message(client, inbound.message.sid)
    assert provider.delete_message(client, inbound.message.sid) is DeleteResult.DELETED
    with pytest.raises(ProviderError) as caught:
        provider.fetch_media(client, settings, inbound.media_urls[0], 1000)
    assert caught.value.status == 404


def test_delete_refuses_what_is_not_a_message_sid(fake: FakeTwilio, client) -> None:
    for bad in ("SM123", "../Calls/CA" + "0" * 32, "MM" + "0" * 31 + "/", new_sid("ME")):
        with pytest.raises(ValueError):
            provider.delete_message(client, bad)
    assert fake.requests == []


def test_delete_media(fake: FakeTwilio, client) -> None:
    inbound = fake.receive(TIPSTER, "", media=[(b"a", "image/png"), (b"b", "image/gif")])
    first, second = inbound.media_urls
    assert provider.delete_media(client, first) is DeleteResult.DELETED
    assert provider.delete_media(client, first) is DeleteResult.ALREADY_GONE
    assert fake.deleted_media == [first.rsplit("/", 1)[1]]
    assert fake.exists(second.rsplit("/", 1)[1])
    (call, _) = fake.calls("DELETE")
    assert call.path == first.removeprefix("https://api.twilio.com") + ".json"


# --- media ----------------------------------------------------------------------------------


def test_fetch_media_with_the_account_credentials(
    fake: FakeTwilio, settings: Settings, client
) -> None:
    picture = bytes(range(256)) * 40  # every byte value: must come back unchanged
    inbound = fake.receive(TIPSTER, "photo", media=[(picture, "image/jpeg")])
    assert inbound.params["NumMedia"] == "1"
    assert inbound.params["MediaUrl0"] == inbound.media_urls[0]
    assert inbound.media_urls[0].startswith(
        f"https://api.twilio.com/2010-04-01/Accounts/{fake.account_sid}/Messages/MM"
    )
    content, content_type = provider.fetch_media(
        client, settings, inbound.media_urls[0], len(picture)
    )
    assert content == picture and content_type == "image/jpeg"
    (call,) = fake.media_fetches
    assert call.auth_ok and call.host == f"127.0.0.1:{fake.port}"


def test_media_redirect_does_not_carry_the_credentials(
    fake: FakeTwilio, settings: Settings, client
) -> None:
    fake.media_redirect = True
    inbound = fake.receive(TIPSTER, "", media=[(b"GIF89a...", "image/gif; charset=binary")])
    content, content_type = provider.fetch_media(client, settings, inbound.media_urls[0], 100)
    assert (content, content_type) == (b"GIF89a...", "image/gif")
    (api_call,) = fake.media_fetches
    (cdn_call,) = fake.cdn_fetches
    assert api_call.auth_ok
    assert cdn_call.host == f"localhost:{fake.port}" and not cdn_call.auth_present


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "no-length"])
def test_fetch_media_refuses_too_large_without_reading_it_all(
    fake: FakeTwilio, settings: Settings, client, announced: bool
) -> None:
    fake.media_content_length = announced
    big = b"\0" * (32 * 1024 * 1024)
    inbound = fake.receive(TIPSTER, "", media=[(big, "video/mp4")])
    # An announced length over the limit is refused before reading any of the body, even
    # when the limit is just one byte short; without a length, reading stops at the limit.
    limit = len(big) - 1 if announced else 100_000
    with pytest.raises(MediaTooLarge):
        provider.fetch_media(client, settings, inbound.media_urls[0], limit)
    (media_sid,) = fake.message_media(inbound.message.sid)
    fake.wait_served(media_sid)
    assert fake.media_served == [(media_sid, False)]  # the client hung up early
    # exactly at the limit is fine
    small = fake.receive(TIPSTER, "", media=[(b"x" * 1000, "image/png")])
    assert provider.fetch_media(client, settings, small.media_urls[0], 1000)[0] == b"x" * 1000


def test_fetch_media_only_from_twilio(fake: FakeTwilio, settings: Settings, client) -> None:
    path = f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{new_sid('MM')}/Media/{new_sid('ME')}"
    for bad in (
        f"https://evil.example{path}",
        f"https://api.twilio.com.evil.example{path}",
        f"http://api.twilio.com{path}",
        f"https://user:pw@api.twilio.com{path}",
        f"https://api.twilio.com:8443{path}",
        f"https://api.twilio.com{path}?x=1",
        f"https://api.twilio.com{path}/../../../Calls.json",
        f"{fake.base_url}{path}",
    ):
        with pytest.raises(ValueError):
            provider.fetch_media(client, settings, bad, 1000)
        with pytest.raises(ValueError):
            provider.delete_media(client, bad)
    assert fake.requests == []


def test_fetch_media_needs_good_credentials(fake: FakeTwilio, base_settings: Settings) -> None:
    from dataclasses import replace

    settings = replace(fake.configure(base_settings), twilio_auth_token="wrong")
    client = provider.make_client(settings)
    assert client is not None
    inbound = fake.receive(TIPSTER, "", media=[(b"x", "image/png")])
    with pytest.raises(ProviderError) as caught:
        provider.fetch_media(client, settings, inbound.media_urls[0], 1000)
    assert caught.value.status == 401
    assert [r.auth_ok for r in fake.media_fetches] == [False]


# --- signing inbound webhooks -----------------------------------------------------------------


def test_signing_helper_matches_the_sdk_validator(fake: FakeTwilio) -> None:
    inbound = fake.receive(TIPSTER, "hello", media=[(b"x", "image/png")])
    url = "https://tips.example.org/sms/inbound"
    signature = sign_twilio_request(fake.auth_token, url, inbound.params)
    validator = RequestValidator(fake.auth_token)
    assert validator.validate(url, inbound.params, signature)
    assert not validator.validate(url, {**inbound.params, "Body": "hellO"}, signature)
    assert not validator.validate(url + "?x=1", inbound.params, signature)
    assert not RequestValidator("other").validate(url, inbound.params, signature)
    assert signed_headers(fake.auth_token, url, inbound.params) == {"X-Twilio-Signature": signature}
    # Twilio's scheme, computed independently: HMAC-SHA1 over the URL and the sorted
    # name+value pairs (a repeated name contributes each value).
    repeated = [("B", "2"), ("A", "x"), ("B", "1")]
    mac = hmac.new(b"token", (url + "Ax" + "B1" + "B2").encode(), hashlib.sha1)
    assert sign_twilio_request("token", url, repeated) == base64.b64encode(mac.digest()).decode()
