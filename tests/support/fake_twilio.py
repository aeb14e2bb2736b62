"""A local fake of Twilio's REST API, for tests that drive the real ``twilio`` SDK.

A stdlib HTTP server in a thread on 127.0.0.1 answering like ``api.twilio.com`` for what
Tipline uses: send a message, fetch/delete a message, download/fetch/delete its media.
Every call must carry HTTP basic auth with the fake account's SID and token (401 and
Twilio's error 20003 otherwise). Every request is recorded for assertions.

Use::

    from tests.support.fake_twilio import fake_twilio_server

    with fake_twilio_server() as fake:            # or the ``fake_twilio`` fixture
        settings = fake.configure(settings)        # SID, token, from number, API base
        client = provider.make_client(settings)
        inbound = fake.receive("+15551230000", "hello", media=[(b"...", "image/jpeg")])
        # inbound.params: the webhook form as Twilio posts it; MediaUrl0 is an
        # https://api.twilio.com/… URL, which make_client's client rewrites to this fake
        ...
        assert fake.sent[0].body == "..."
        assert fake.deleted_messages == [inbound.message.sid]

Knobs: ``opted_out`` (numbers whose sends answer 400/21610), ``too_soon`` (SIDs whose
next delete answers 20009 once), ``too_soon_first_delete`` (every SID's first delete
answers 20009 once), ``media_redirect`` (media downloads answer 307 to a "CDN" on
another host name, as Twilio does; ``cdn_fetches`` shows whether credentials followed),
``media_content_length`` (False: media bodies are sent without Content-Length),
``fail_next(status, code, message)``. Messages can be listed (``To``, ``From``,
``DateSent<`` filters, newest first, paged); set a message's ``sent_at`` to age it.
``service_numbers`` gives a messaging service its sender numbers (``/v1/Services/…``). ``media_served`` tells whether each media body
was written whole or the client hung up early (a refused oversized download).

Twilio's documentation does not say which HTTP status comes with error 20009; the fake
uses 409 (``too_soon_status``) — code under test must look at the error code.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest

API_VERSION = "2010-04-01"
TWILIO_API = "https://api.twilio.com"
FROM_NUMBER = "+15005550006"  # Twilio's "valid sender" test number
SERVICE_NUMBER = "+15005550006"  # the number tipsters write to (inbound "To")

_ACCOUNT = r"/2010-04-01/Accounts/(?P<account>[^/]+)"
_MESSAGES = re.compile(_ACCOUNT + r"/Messages\.json")
_MESSAGE = re.compile(_ACCOUNT + r"/Messages/(?P<message>[^/]+)\.json")
_MEDIA = re.compile(
    _ACCOUNT + r"/Messages/(?P<message>[^/]+)/Media/(?P<media>[^/.]+)(?P<json>\.json)?"
)
_CDN = re.compile(r"/cdn/(?P<token>[0-9a-f]{32})")
_SERVICE_NUMBERS = re.compile(r"/v1/Services/(?P<service>MG[0-9a-fA-F]{32})/PhoneNumbers")

S = TypeVar("S")


def new_sid(prefix: str) -> str:
    """A SID shaped like Twilio's: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def _now() -> str:
    return format_datetime(datetime.now(UTC).replace(microsecond=0))


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]  # the x-www-form-urlencoded body, parsed
    host: str  # the Host header: which name the client used
    auth_present: bool  # an Authorization header came with it
    auth_ok: bool  # basic auth with the fake's account SID and token

    def value(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None


@dataclass
class Message:
    sid: str
    direction: str  # "inbound" or "outbound-api"
    to: str
    from_: str | None
    body: str
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    media: list[str] = field(default_factory=list)  # media SIDs
    deleted: bool = False
    date_created: str = field(default_factory=_now)
    # When Twilio received (inbound) or sent it: what the list filter DateSent< looks at.
    sent_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))


@dataclass
class Media:
    sid: str
    message_sid: str
    content: bytes
    content_type: str
    url: str  # as Twilio gives it: https://api.twilio.com/2010-04-01/Accounts/AC…/Messages/MM…/Media/ME…
    cdn_token: str = field(default_factory=lambda: secrets.token_hex(16))
    deleted: bool = False


@dataclass(frozen=True)
class Inbound:
    message: Message
    media_urls: list[str]
    params: dict[str, str]  # the messaging webhook's form parameters, as Twilio posts them


class FakeTwilio:
    def __init__(self, account_sid: str | None = None, auth_token: str | None = None) -> None:
        self.account_sid = account_sid or new_sid("AC")
        self.auth_token = auth_token or secrets.token_hex(16)
        self.from_number = FROM_NUMBER
        self.opted_out: set[str] = set()
        # Messaging services' sender pools: {service SID: [E.164 numbers]}
        self.service_numbers: dict[str, list[str]] = {}
        self.too_soon: set[str] = set()
        self.too_soon_first_delete = False
        self.too_soon_status = 409
        self.media_redirect = False
        self.media_content_length = True  # False: media bodies end at connection close
        self.media_served: list[tuple[str, bool]] = []  # (media SID, whole body written?)
        self.requests: list[RecordedRequest] = []
        self.messages: dict[str, Message] = {}
        self.media: dict[str, Media] = {}
        self.deleted_messages: list[str] = []
        self.deleted_media: list[str] = []
        self._refused_once: set[str] = set()
        self._failures: list[tuple[int, int, str]] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> FakeTwilio:
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-twilio",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    @property
    def base_url(self) -> str:
        """What ``TIPLINE_TWILIO_API_BASE`` must be set to."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def cdn_base(self) -> str:
        """Where media redirects go: the same server under another host name."""
        return f"http://localhost:{self.port}"

    # --- configuring the code under test -----------------------------------------------

    def configure(
        self,
        settings: S,
        *,
        messaging_service_sid: str | None = None,
        from_number: str | None = FROM_NUMBER,
    ) -> S:
        """``settings`` (a tipline Settings) pointed at this fake."""
        return replace(  # type: ignore[type-var]
            settings,
            twilio_account_sid=self.account_sid,
            twilio_auth_token=self.auth_token,
            twilio_from_number=from_number,
            twilio_messaging_service_sid=messaging_service_sid,
            twilio_api_base=self.base_url,
        )

    def env(self, *, messaging_service_sid: str | None = None) -> dict[str, str]:
        """The same as environment variables, for a subprocess (worker, CLI)."""
        env = {
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM_NUMBER": self.from_number,
            "TIPLINE_TWILIO_API_BASE": self.base_url,
        }
        if messaging_service_sid:
            env["TWILIO_MESSAGING_SERVICE_SID"] = messaging_service_sid
        return env

    def fail_next(self, status: int, code: int, message: str = "Fake failure") -> None:
        """The next API call (any route, after the auth check) answers this error."""
        with self._lock:
            self._failures.append((status, code, message))

    # --- what tests "receive" ----------------------------------------------------------

    def receive(
        self,
        from_: str,
        body: str,
        *,
        to: str = SERVICE_NUMBER,
        media: Iterable[tuple[bytes, str]] = (),
        messaging_service_sid: str | None = None,
    ) -> Inbound:
        """Register an inbound message (and its media) as Twilio would hold it."""
        items = list(media)
        message = Message(
            sid=new_sid("MM" if items else "SM"),
            direction="inbound",
            to=to,
            from_=from_,
            body=body,
            messaging_service_sid=messaging_service_sid,
        )
        with self._lock:
            self.messages[message.sid] = message
        urls = [self.add_media(message.sid, content, ctype) for content, ctype in items]
        params = {
            "ToCountry": "US",
            "ToState": "",
            "SmsMessageSid": message.sid,
            "NumMedia": str(len(urls)),
            "ToCity": "",
            "FromZip": "",
            "SmsSid": message.sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": "US",
            "To": to,
            "ToZip": "",
            "NumSegments": "1",
            "MessageSid": message.sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "ApiVersion": API_VERSION,
        }
        if messaging_service_sid:
            params["MessagingServiceSid"] = messaging_service_sid
        for i, (url, (_, ctype)) in enumerate(zip(urls, items, strict=True)):
            params[f"MediaUrl{i}"] = url
            params[f"MediaContentType{i}"] = ctype
        return Inbound(message=message, media_urls=urls, params=params)

    def add_media(self, message_sid: str, content: bytes, content_type: str) -> str:
        """Attach a media item to a known message; returns its Twilio-shaped URL."""
        sid = new_sid("ME")
        url = f"{TWILIO_API}/{API_VERSION}/Accounts/{self.account_sid}/Messages/{message_sid}/Media/{sid}"
        with self._lock:
            self.messages[message_sid].media.append(sid)
            self.media[sid] = Media(sid, message_sid, content, content_type, url)
        return url

    def status_params(self, sid: str, status: str = "delivered") -> dict[str, str]:
        """A status callback's form parameters for message ``sid``, as Twilio posts them."""
        message = self.messages[sid]
        params = {
            "SmsSid": sid,
            "SmsStatus": status,
            "MessageStatus": status,
            "To": message.to,
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": message.from_ or FROM_NUMBER,
            "ApiVersion": API_VERSION,
        }
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        return params

    # --- what the code under test did --------------------------------------------------

    @property
    def sent(self) -> list[Message]:
        with self._lock:
            return [m for m in self.messages.values() if m.direction == "outbound-api"]

    def calls(self, method: str | None = None, path_contains: str = "") -> list[RecordedRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and path_contains in r.path
            ]

    @property
    def media_fetches(self) -> list[RecordedRequest]:
        """GETs of media content at the API (not ``.json``, not the CDN)."""
        return [r for r in self.calls("GET", "/Media/") if not r.path.endswith(".json")]

    @property
    def cdn_fetches(self) -> list[RecordedRequest]:
        return self.calls("GET", "/cdn/")

    def message_media(self, sid: str) -> list[str]:
        """The media SIDs of message ``sid``."""
        with self._lock:
            return list(self.messages[sid].media)

    def wait_served(self, media_sid: str, timeout: float = 10.0) -> None:
        """Wait until the server has finished (or given up) writing a media body."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if any(sid == media_sid for sid, _ in self.media_served):
                    return
            time.sleep(0.01)
        raise AssertionError(f"media {media_sid} was never served")

    def exists(self, sid: str) -> bool:
        with self._lock:
            item = self.messages.get(sid) or self.media.get(sid)
            return item is not None and not item.deleted

    # --- JSON shapes -------------------------------------------------------------------

    def _message_uri(self, sid: str) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"

    def message_json(self, m: Message) -> dict[str, Any]:
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": m.body,
            "date_created": m.date_created,
            "date_sent": format_datetime(m.sent_at),
            "date_updated": m.date_created,
            "direction": m.direction,
            "error_code": None,
            "error_message": None,
            "from": m.from_,
            "messaging_service_sid": m.messaging_service_sid,
            "num_media": str(len(m.media)),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": m.sid,
            "status": "accepted" if m.messaging_service_sid and not m.from_ else "queued",
            "subresource_uris": {
                "media": self._message_uri(m.sid) + "/Media.json",
                "feedback": self._message_uri(m.sid) + "/Feedback.json",
            },
            "to": m.to,
            "uri": self._message_uri(m.sid) + ".json",
        }

    def media_json(self, media: Media) -> dict[str, Any]:
        return {
            "account_sid": self.account_sid,
            "content_type": media.content_type,
            "date_created": _now(),
            "date_updated": _now(),
            "parent_sid": media.message_sid,
            "sid": media.sid,
            "uri": self._message_uri(media.message_sid) + f"/Media/{media.sid}.json",
        }


def error_json(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTwilio
    server_version = "fake-twilio"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        pass  # keep test output quiet (and free of what the requests carried)

    # --- plumbing ----------------------------------------------------------------------

    def _reply(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        content_length: bool = True,
    ) -> bool:
        """Answer; False when the client hung up before the whole body was written."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Type", content_type)
            if content_length:
                self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status == 204:
            return True
        try:
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return False
        return True

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._reply(status, json.dumps(payload).encode())

    def _error(self, status: int, code: int, message: str) -> None:
        self._json(status, error_json(status, code, message))

    def _not_found(self) -> None:
        self._error(404, 20404, f"The requested resource {self._path} was not found")

    def _record(self) -> RecordedRequest:
        parts = urlsplit(self.path)
        self._path = parts.path
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        form: dict[str, list[str]] = {}
        if raw and "x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
            form = parse_qs(raw.decode(), keep_blank_values=True)
        header = self.headers.get("Authorization")
        record = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            form=form,
            host=self.headers.get("Host", ""),
            auth_present=header is not None,
            auth_ok=self._auth_ok(header),
        )
        with self.fake._lock:
            self.fake.requests.append(record)
        return record

    def _auth_ok(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.fake.account_sid) and secrets.compare_digest(
            password, self.fake.auth_token
        )

    def do_GET(self) -> None:  # noqa: N802 - stdlib's name
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle()

    # --- routes ------------------------------------------------------------------------

    def _handle(self) -> None:
        request = self._record()
        fake = self.fake
        path = request.path
        cdn = _CDN.fullmatch(path)
        if cdn and request.method == "GET":
            return self._cdn(cdn["token"])
        if not request.auth_ok:
            self._reply(
                401,
                json.dumps(
                    {
                        "code": 20003,
                        "detail": "Your AccountSid or AuthToken was incorrect.",
                        "message": "Authenticate",
                        "more_info": "https://www.twilio.com/docs/errors/20003",
                        "status": 401,
                    }
                ).encode(),
                headers={"WWW-Authenticate": 'Basic realm="Twilio API"'},
            )
            return
        with fake._lock:
            failure = fake._failures.pop(0) if fake._failures else None
        if failure:
            return self._error(*failure)
        if (match := _SERVICE_NUMBERS.fullmatch(path)) and request.method == "GET":
            return self._service_numbers(match["service"])
        if match := _MESSAGES.fullmatch(path):
            if match["account"] != fake.account_sid:
                return self._not_found()
            if request.method == "POST":
                return self._create(request)
            if request.method == "GET":
                return self._list(request)
        elif match := _MESSAGE.fullmatch(path):
            if match["account"] != fake.account_sid:
                return self._not_found()
            if request.method == "GET":
                return self._fetch_message(match["message"])
            if request.method == "DELETE":
                return self._delete_message(match["message"])
        elif match := _MEDIA.fullmatch(path):
            if match["account"] != fake.account_sid:
                return self._not_found()
            if request.method == "GET":
                return self._get_media(match["message"], match["media"], bool(match["json"]))
            if request.method == "DELETE" and match["json"]:
                return self._delete_media(match["message"], match["media"])
        return self._not_found()

    def _create(self, request: RecordedRequest) -> None:
        fake = self.fake
        to = request.value("To")
        from_ = request.value("From")
        service = request.value("MessagingServiceSid")
        body = request.value("Body")
        if not to:
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not from_ and not service:
            return self._error(400, 21603, "A 'From' phone number is required.")
        if not body and not request.value("MediaUrl"):
            return self._error(400, 21602, "Message body is required.")
        if to in fake.opted_out:
            return self._error(400, 21610, "Attempt to send to unsubscribed recipient")
        message = Message(
            sid=new_sid("SM"),
            direction="outbound-api",
            to=to,
            from_=from_,
            body=body or "",
            messaging_service_sid=service,
            status_callback=request.value("StatusCallback"),
        )
        with fake._lock:
            fake.messages[message.sid] = message
        self._json(201, fake.message_json(message))

    def _list(self, request: RecordedRequest) -> None:
        """Messages newest first, filtered like Twilio's: To, From, DateSent< (ISO time)."""
        fake = self.fake
        query = {k: v[0] for k, v in request.query.items()}
        before = query.get("DateSent<")
        cutoff = datetime.fromisoformat(before.replace("Z", "+00:00")) if before else None
        with fake._lock:
            found = [
                m
                for m in fake.messages.values()
                if not m.deleted
                and ("To" not in query or m.to == query["To"])
                and ("From" not in query or m.from_ == query["From"])
                and (cutoff is None or m.sent_at < cutoff)
            ]
        found.sort(key=lambda m: m.sent_at, reverse=True)
        size = max(1, min(int(query.get("PageSize", "50")), 1000))
        page = int(query.get("Page", "0"))
        chunk = found[page * size : (page + 1) * size]
        base = f"/{API_VERSION}/Accounts/{fake.account_sid}/Messages.json"
        rest = "&".join(f"{k}={v}" for k, v in query.items() if k not in ("Page", "PageSize"))

        def uri(n: int) -> str:
            return f"{base}?{rest}&PageSize={size}&Page={n}"

        more = (page + 1) * size < len(found)
        self._json(
            200,
            {
                "messages": [fake.message_json(m) for m in chunk],
                "end": page * size + len(chunk) - 1,
                "first_page_uri": uri(0),
                "next_page_uri": uri(page + 1) if more else None,
                "page": page,
                "page_size": size,
                "previous_page_uri": uri(page - 1) if page else None,
                "start": page * size,
                "uri": uri(page),
            },
        )

    def _service_numbers(self, service: str) -> None:
        """messaging.twilio.com/v1/Services/MG…/PhoneNumbers, one page, as Twilio shapes it."""
        with self.fake._lock:
            numbers = self.fake.service_numbers.get(service)
        if numbers is None:
            return self._not_found()
        url = f"https://messaging.twilio.com/v1/Services/{service}/PhoneNumbers"
        self._json(
            200,
            {
                "phone_numbers": [
                    {
                        "sid": new_sid("PN"),
                        "account_sid": self.fake.account_sid,
                        "service_sid": service,
                        "phone_number": number,
                        "country_code": "US",
                        "capabilities": ["SMS"],
                        "url": f"{url}/PN",
                    }
                    for number in numbers
                ],
                "meta": {
                    "page": 0,
                    "page_size": 50,
                    "first_page_url": url + "?PageSize=50&Page=0",
                    "previous_page_url": None,
                    "url": url + "?PageSize=50&Page=0",
                    "next_page_url": None,
                    "key": "phone_numbers",
                },
            },
        )

    def _fetch_message(self, sid: str) -> None:
        with self.fake._lock:
            message = self.fake.messages.get(sid)
        if message is None or message.deleted:
            return self._not_found()
        self._json(200, self.fake.message_json(message))

    def _delete_message(self, sid: str) -> None:
        fake = self.fake
        with fake._lock:
            message = fake.messages.get(sid)
            if message is None or message.deleted:
                return self._not_found()
            refuse = sid in fake.too_soon or (
                fake.too_soon_first_delete and sid not in fake._refused_once
            )
            if refuse:
                fake.too_soon.discard(sid)
                fake._refused_once.add(sid)
            else:
                message.deleted = True
                fake.deleted_messages.append(sid)
                for media_sid in message.media:  # Twilio deletes the media with the message
                    fake.media[media_sid].deleted = True
        if refuse:
            status = fake.too_soon_status
            return self._error(status, 20009, "Cannot delete this resource before it is complete")
        self._reply(204)

    def _find_media(self, message_sid: str, media_sid: str) -> Media | None:
        with self.fake._lock:
            media = self.fake.media.get(media_sid)
        if media is None or media.deleted or media.message_sid != message_sid:
            return None
        return media

    def _get_media(self, message_sid: str, media_sid: str, as_json: bool) -> None:
        media = self._find_media(message_sid, media_sid)
        if media is None:
            return self._not_found()
        if as_json:
            return self._json(200, self.fake.media_json(media))
        if self.fake.media_redirect:
            location = f"{self.fake.cdn_base}/cdn/{media.cdn_token}"
            self._reply(307, b"", "text/plain", headers={"Location": location})
            return
        self._serve_media(media)

    def _serve_media(self, media: Media) -> None:
        whole = self._reply(
            200,
            media.content,
            media.content_type,
            content_length=self.fake.media_content_length,
        )
        with self.fake._lock:
            self.fake.media_served.append((media.sid, whole))

    def _cdn(self, token: str) -> None:
        with self.fake._lock:
            found = [m for m in self.fake.media.values() if m.cdn_token == token]
        if not found or found[0].deleted:
            self._reply(404, b"not found", "text/plain")
            return
        self._serve_media(found[0])

    def _delete_media(self, message_sid: str, media_sid: str) -> None:
        media = self._find_media(message_sid, media_sid)
        if media is None:
            return self._not_found()
        with self.fake._lock:
            media.deleted = True
            self.fake.deleted_media.append(media_sid)
        self._reply(204)


@contextmanager
def fake_twilio_server(
    account_sid: str | None = None, auth_token: str | None = None
) -> Iterator[FakeTwilio]:
    """A running :class:`FakeTwilio`, stopped on exit."""
    fake = FakeTwilio(account_sid, auth_token).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    """A running fake Twilio for one test (import this name into a conftest to use it)."""
    with fake_twilio_server() as fake:
        yield fake
