"""Twilio's webhooks: POST /sms/inbound (a text arrives) and POST /sms/status.

Every request must carry a valid X-Twilio-Signature over TIPLINE_PUBLIC_URL + path (the
URL Twilio called, not the one a proxy hands us); anything else gets 403 and nothing is
stored. Only From, Body, MessageSid, NumMedia, MediaUrl<n> and OptOutType are read (and,
on /sms/status, MessageSid and MessageStatus); Twilio's geo fields (FromCity, FromZip, …)
and every other parameter are never looked at, stored or logged.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request
from flask_babel import force_locale
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from werkzeug.datastructures import MultiDict

from tipline.db import transaction
from tipline.sms import provider, texts
from tipline.sms.inbound import MAX_MEDIA, InboundSms, Reply, handle
from tipline.sms.keywords import language_of
from tipline.sms.outbound import purge_work, status_callback_url
from workers.queues import enqueue_committed

bp = Blueprint("sms", __name__, url_prefix="/sms")
log = logging.getLogger("tipline.sms")


def _runtime():  # type: ignore[no-untyped-def]
    return current_app.extensions["tipline"]


def signed_by_twilio() -> bool:
    settings = _runtime().settings
    token = settings.twilio_auth_token
    if not token:
        log.warning("SMS webhook refused: TWILIO_AUTH_TOKEN is not set")
        return False
    url = settings.public_url.rstrip("/") + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    signature = request.headers.get("X-Twilio-Signature", "")
    return bool(signature) and RequestValidator(token).validate(
        url, request.form.to_dict(flat=True), signature
    )


def _twiml(reply: Reply | None) -> Response:
    response = MessagingResponse()
    if reply is not None and reply.parts:
        with force_locale(reply.lang):
            # Our answer is a message at Twilio too (with the number, and the reference):
            # its status callback tells us when it is final, and then it is deleted.
            response.message(
                " ".join(str(part) for part in reply.parts),
                status_callback=status_callback_url(_runtime()),
            )
    return Response(str(response), mimetype="application/xml")


@bp.post("/inbound")
def inbound() -> Response:
    if not signed_by_twilio():
        return Response("forbidden\n", status=403, mimetype="text/plain")
    runtime = _runtime()
    form = request.form
    sms = InboundSms(
        number=form.get("From", "").strip(),
        body=form.get("Body", ""),
        message_sid=form.get("MessageSid", ""),
        media=media_urls(form),
        opt_out=form.get("OptOutType") or None,
    )
    try:
        reply = handle(runtime, sms)
    except OperationalError:
        # Nothing was committed: ask the tipster to send it again (Twilio will not retry).
        log.error("database unavailable: SMS not taken")
        return _twiml(Reply(language_of(sms.body), (texts.unavailable(),)))
    if reply is not None:
        enqueue_committed(runtime, reply.work)
    return _twiml(reply)


def media_urls(form: MultiDict[str, str]) -> tuple[str, ...]:
    """The MMS media URLs of a webhook, only those that point at Twilio's API (the worker
    sends the account credentials with each download)."""
    try:
        count = max(0, min(int(form.get("NumMedia", "0") or 0), MAX_MEDIA))
    except ValueError:
        count = 0
    urls = []
    for i in range(count):
        url = form.get(f"MediaUrl{i}", "")
        try:
            provider.parse_media_url(url)
        except ValueError:
            log.warning("MMS media URL %d is not a Twilio media URL: ignored", i)
            continue
        urls.append(url)
    return tuple(urls)


# Statuses after which Twilio lets a message be deleted (before them: error 20009).
FINAL_STATUSES = frozenset({"delivered", "undelivered", "failed", "canceled", "read"})


@bp.post("/status")
def status() -> Response:
    """Delivery status of a text we sent: once final, the message is deleted at Twilio.
    Nothing else is read or stored (the callback carries the tipster's number)."""
    if not signed_by_twilio():
        return Response("forbidden\n", status=403, mimetype="text/plain")
    sid = request.form.get("MessageSid", "")
    final = request.form.get("MessageStatus", "") in FINAL_STATUSES
    if final and provider.is_message_sid(sid):
        runtime = _runtime()
        try:
            with transaction(runtime.sessions) as session:
                work = purge_work(runtime, session, sid)
        except SQLAlchemyError:
            # The purge row written when the text was sent deletes it later anyway.
            log.warning("status callback: database unavailable, purge left to the retry")
        else:
            enqueue_committed(runtime, (work,))
    return Response("", status=204)
