"""Twilio's REST API through the real SDK: the only module that builds a ``Client``.

Small named operations with plain results and a few exceptions the jobs can act on:

* :func:`make_client` — a ``twilio.rest.Client`` from the settings, or ``None`` when no
  credentials are configured (the embedded demo writes replies to the log instead).
  With ``TIPLINE_TWILIO_API_BASE`` every REST call (and media download) goes to that
  base URL instead of ``https://api.twilio.com`` (tests, proxies).
* :func:`send_sms` → message SID; :class:`OptedOut` when the recipient sent STOP.
* :func:`delete_message` / :func:`delete_media` → :class:`DeleteResult`;
  :class:`TooSoon` when Twilio refuses to delete a message that is not final yet
  (retry later, with backoff).
* :func:`fetch_media` → ``(content, content_type)``, refused beyond ``max_bytes``.
* :func:`old_message_sids` → the SIDs of the tip line's messages older than a time
  (the provider sweep deletes what the outbox missed).

Privacy: nothing here logs a phone number or a message body — only Twilio error codes,
and SIDs at DEBUG level only (with exact times, a SID in a log would date a message). Twilio's own error messages can quote the number ("The 'To' number +1… is not
valid"), so they are never copied into our exceptions, and SDK exceptions are not chained
(a job's traceback stored by RQ would otherwise carry them).
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import NewConnectionError

if TYPE_CHECKING:
    from tipline.settings import Settings

log = logging.getLogger("tipline.sms.provider")

REST_TIMEOUT = 30.0  # seconds, per request; the SDK's default is to wait forever
MEDIA_TIMEOUT = (10.0, 60.0)  # connect, read
_CHUNK = 64 * 1024

# Twilio error codes we act on (https://www.twilio.com/docs/api/errors/<code>).
ERROR_NOT_FOUND = 20404
ERROR_TOO_SOON = 20009  # "Cannot delete this resource before it is complete"
ERROR_OPTED_OUT = 21610  # "Attempt to send to unsubscribed recipient"

_MESSAGE_SID = re.compile(r"(?:SM|MM)[0-9a-fA-F]{32}")
_MEDIA_URL_PATH = re.compile(
    r"/2010-04-01/Accounts/(?P<account>AC[0-9a-fA-F]{32})"
    r"/Messages/(?P<message>(?:SM|MM)[0-9a-fA-F]{32})"
    r"/Media/(?P<media>ME[0-9a-fA-F]{32})"
)


class ProviderError(Exception):
    """Twilio answered with an error (or could not be reached).

    Carries Twilio's error ``code`` and the HTTP ``status`` only — never Twilio's message,
    which may quote the phone number. ``retryable`` says whether trying again later can help.
    """

    def __init__(
        self,
        what: str,
        *,
        code: int | None = None,
        status: int | None = None,
        retryable: bool = False,
        maybe_accepted: bool = False,
    ) -> None:
        self.code = code
        self.status = status
        self.retryable = retryable
        # The request may have reached Twilio and been acted on, its answer lost: sending
        # again could text the tipster twice.
        self.maybe_accepted = maybe_accepted
        super().__init__(f"{what} (Twilio error {code}, HTTP {status})")


class OptedOut(ProviderError):
    """The recipient opted out (replied STOP): Twilio refuses to send to them (21610)."""


class TooSoon(ProviderError):
    """Twilio refuses to delete a message that is not final yet (20009): retry later."""


class Unavailable(ProviderError):
    """Twilio could not be reached or timed out: retry later."""


class MediaTooLarge(ProviderError):
    """The media item is larger than the caller allowed; it was not read to the end."""


class DeleteResult(enum.Enum):
    """What a delete did. Both members are truthy: the thing is gone either way."""

    DELETED = "deleted"
    ALREADY_GONE = "already_gone"


class RebasingHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, sending every request to ``base`` instead of Twilio's host.

    Scheme, host and port of each request URL are replaced by the base's (a path in the
    base is put in front of the request path); the path and query are kept.
    """

    def __init__(self, base: str | None = None, timeout: float | None = REST_TIMEOUT) -> None:
        super().__init__(pool_connections=True, timeout=timeout)
        self.base = urlsplit(base.rstrip("/")) if base else None

    def rebase(self, url: str) -> str:
        if self.base is None:
            return url
        parts = urlsplit(url)
        return urlunsplit(
            (
                self.base.scheme,
                self.base.netloc,
                self.base.path + parts.path,
                parts.query,
                "",
            )
        )

    def request(  # type: ignore[override]
        self, method: str, url: str, *args: Any, **kwargs: Any
    ) -> Response:
        return super().request(method, self.rebase(url), *args, **kwargs)


def make_client(settings: Settings) -> Client | None:
    """The Twilio client for ``settings``, or None when no credentials are configured."""
    sid, token = settings.twilio_account_sid, settings.twilio_auth_token
    if not sid and not token:
        return None
    if not sid or not token:
        log.warning("Twilio disabled: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must both be set")
        return None
    client = Client(sid, token, http_client=RebasingHttpClient(settings.twilio_api_base))
    # The SDK reads TWILIO_EDGE / TWILIO_REGION from os.environ behind our back; our
    # settings are the only configuration, so leave both unset (api.twilio.com).
    client.edge = None
    client.region = None
    return client


def _error(what: str, exc: TwilioException) -> ProviderError:
    """Our exception for an SDK exception, without Twilio's message."""
    code = getattr(exc, "code", None)
    status = getattr(exc, "status", None)
    code = code if isinstance(code, int) else None
    status = status if isinstance(status, int) else None
    if code == ERROR_OPTED_OUT:
        return OptedOut(what, code=code, status=status)
    if code == ERROR_TOO_SOON:
        return TooSoon(what, code=code, status=status, retryable=True)
    retryable = status is not None and (status >= 500 or status == 429)
    return ProviderError(what, code=code, status=status, retryable=retryable)


def _refused(exc: requests.RequestException) -> bool:
    """The connection was never made (refused, DNS, …): the request did not leave us."""
    reason = exc.args[0] if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(
        getattr(reason, "reason", None), NewConnectionError
    )


def _is_gone(exc: TwilioException) -> bool:
    return getattr(exc, "status", None) == 404 or getattr(exc, "code", None) == ERROR_NOT_FOUND


def send_sms(
    client: Client,
    settings: Settings,
    to: str,
    body: str,
    status_callback: str | None = None,
) -> str:
    """Send ``body`` to ``to``; return the new message's SID.

    Sends through ``TWILIO_MESSAGING_SERVICE_SID`` when set, else from
    ``TWILIO_FROM_NUMBER``. Raises :class:`OptedOut` when the recipient opted out,
    :class:`ProviderError` for other refusals, :class:`Unavailable` when Twilio cannot be
    reached.
    """
    sender: dict[str, str] = {}
    if settings.twilio_messaging_service_sid:
        sender["messaging_service_sid"] = settings.twilio_messaging_service_sid
    elif settings.twilio_from_number:
        sender["from_"] = settings.twilio_from_number
    else:
        raise ProviderError("neither TWILIO_MESSAGING_SERVICE_SID nor TWILIO_FROM_NUMBER is set")
    if status_callback:
        sender["status_callback"] = status_callback
    try:
        message = client.messages.create(to=to, body=body, **sender)
    except TwilioException as exc:
        error = _error("Twilio refused to send the message", exc)
        log.warning("twilio send failed: code=%s status=%s", error.code, error.status)
        raise error from None
    except requests.RequestException as exc:
        never_sent = isinstance(exc, requests.ConnectTimeout) or _refused(exc)
        log.warning("twilio send failed: %s", "unreachable" if never_sent else "no answer")
        raise Unavailable(
            "Twilio could not be reached", retryable=True, maybe_accepted=not never_sent
        ) from None
    sid = message.sid
    if not isinstance(sid, str) or not _MESSAGE_SID.fullmatch(sid):
        raise ProviderError("Twilio's answer has no message SID")
    log.debug("twilio message sent: sid=%s", sid)
    return sid


def tip_line_numbers(client: Client, settings: Settings) -> list[str]:
    """The numbers tipsters text: TWILIO_FROM_NUMBER and the messaging service's senders."""
    numbers = [settings.twilio_from_number] if settings.twilio_from_number else []
    service = settings.twilio_messaging_service_sid
    if service:
        try:
            for entry in client.messaging.v1.services(service).phone_numbers.stream():
                if isinstance(entry.phone_number, str):
                    numbers.append(entry.phone_number)
        except TwilioException as exc:
            raise _error("Twilio refused to list the service's numbers", exc) from None
        except requests.RequestException:
            raise Unavailable("Twilio could not be reached", retryable=True) from None
    return list(dict.fromkeys(numbers))


def old_message_sids(
    client: Client, settings: Settings, before: datetime, limit: int = 1000
) -> list[str]:
    """SIDs of the messages still at Twilio to or from the tip line's numbers, sent
    before ``before`` (at most ``limit`` per number and direction). Other numbers of the
    account are never looked at."""
    sids: list[str] = []
    try:
        for number in tip_line_numbers(client, settings):
            for query in ({"to": number}, {"from_": number}):
                for message in client.messages.stream(
                    date_sent_before=before, limit=limit, page_size=min(limit, 1000), **query
                ):
                    if isinstance(message.sid, str) and _MESSAGE_SID.fullmatch(message.sid):
                        sids.append(message.sid)
    except TwilioException as exc:
        raise _error("Twilio refused to list messages", exc) from None
    except requests.RequestException:
        raise Unavailable("Twilio could not be reached", retryable=True) from None
    return list(dict.fromkeys(sids))


def is_message_sid(value: str) -> bool:
    return bool(_MESSAGE_SID.fullmatch(value))


def delete_message(client: Client, sid: str) -> DeleteResult:
    """Delete message ``sid`` (and, at Twilio, its media) from the account.

    :class:`DeleteResult.ALREADY_GONE` when Twilio no longer has it (404 / 20404).
    Raises :class:`TooSoon` (20009) when the message is not final yet: retry later.
    """
    if not _MESSAGE_SID.fullmatch(sid):
        raise ValueError("not a Twilio message SID")
    return _delete(client.messages(sid).delete, "message", f"sid={sid}")


def parse_media_url(media_url: str) -> tuple[str, str, str]:
    """``(account_sid, message_sid, media_sid)`` of a Twilio media URL.

    Only ``https://api.twilio.com/2010-04-01/Accounts/AC…/Messages/MM…/Media/ME…`` (or a
    regional ``api.….twilio.com`` host) is accepted: the account credentials are sent
    with it, so it must never point anywhere else.
    """
    parts = urlsplit(media_url)
    host = (parts.hostname or "").lower()
    twilio_host = host == "api.twilio.com" or (
        host.startswith("api.") and host.endswith(".twilio.com")
    )
    match = _MEDIA_URL_PATH.fullmatch(parts.path)
    if (
        parts.scheme != "https"
        or not twilio_host
        or parts.port is not None
        or parts.username is not None
        or parts.query
        or parts.fragment
        or match is None
    ):
        raise ValueError("not a Twilio media URL")
    return match["account"], match["message"], match["media"]


def fetch_media(
    client: Client, settings: Settings, media_url: str, max_bytes: int
) -> tuple[bytes, str]:
    """Download one MMS media item with the account credentials.

    Returns ``(content, content_type)``. Raises :class:`MediaTooLarge` as soon as the item
    is known to exceed ``max_bytes`` (announced length, or bytes received) without reading
    the rest; :class:`ProviderError` when Twilio refuses (404 gone, 401 …);
    :class:`Unavailable` when Twilio cannot be reached. Twilio usually redirects to its
    media store; ``requests`` drops the credentials when the redirect leaves the host.
    """
    account, message, media = parse_media_url(media_url)
    http_client = client.http_client
    if isinstance(http_client, RebasingHttpClient):
        url = http_client.rebase(media_url)
        session = http_client.session or requests.Session()
    else:
        url = RebasingHttpClient(settings.twilio_api_base).rebase(media_url)
        session = requests.Session()
    try:
        response = session.get(
            url,
            auth=(client.username, client.password),
            stream=True,
            timeout=MEDIA_TIMEOUT,
            allow_redirects=True,
        )
    except requests.RequestException:
        raise Unavailable("Twilio media could not be reached", retryable=True) from None
    with response:
        status = response.status_code
        if status != 200:
            log.info("twilio media fetch failed: status=%s", status)
            raise ProviderError(
                "Twilio refused the media download",
                code=ERROR_NOT_FOUND if status == 404 else None,
                status=status,
                retryable=status >= 500 or status == 429,
            )
        announced = response.headers.get("Content-Length", "")
        if announced.isdigit() and int(announced) > max_bytes:
            log.info("twilio media too large")
            raise MediaTooLarge("the media item is too large", status=status)
        content = bytearray()
        try:
            for chunk in response.iter_content(_CHUNK):
                content += chunk
                if len(content) > max_bytes:
                    log.info("twilio media too large")
                    raise MediaTooLarge("the media item is too large", status=status)
        except requests.RequestException:
            raise Unavailable("Twilio media download broke off", retryable=True) from None
        content_type = response.headers.get("Content-Type", "")
        content_type = content_type.split(";", 1)[0].strip().lower()
    log.debug("twilio media fetched: message=%s media=%s account=%s", message, media, account)
    return bytes(content), content_type or "application/octet-stream"


def delete_media(client: Client, media_url: str) -> DeleteResult:
    """Delete the media item at ``media_url`` (a URL as given to :func:`fetch_media`)."""
    account, message, media = parse_media_url(media_url)
    resource = client.api.v2010.accounts(account).messages(message).media(media)
    return _delete(resource.delete, "media item", f"media={media}")


def _delete(call: Callable[[], object], what: str, ident: str) -> DeleteResult:
    """One DELETE at Twilio: gone already is success; errors map to ProviderError and
    carry only the code (Twilio's message text can quote a phone number)."""
    try:
        call()
    except TwilioException as exc:
        if _is_gone(exc):
            log.debug("twilio %s already gone: %s", what, ident)
            return DeleteResult.ALREADY_GONE
        error = _error(f"Twilio refused to delete the {what}", exc)
        log.info("twilio %s delete failed: code=%s", what, error.code)
        raise error from None
    except requests.RequestException:
        raise Unavailable("Twilio could not be reached", retryable=True) from None
    log.debug("twilio %s deleted: %s", what, ident)
    return DeleteResult.DELETED
