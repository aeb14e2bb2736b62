"""Twilio's webhooks: POST /sms/inbound (a text arrives) and POST /sms/status.

Every request must carry a valid X-Twilio-Signature over TIPLINE_PUBLIC_URL + path (the
URL Twilio called, not the one a proxy hands us); anything else gets 403 and nothing is
stored. Only From, Body, NumMedia and OptOutType are read; Twilio's geo fields (FromCity,
FromZip, …) and every other parameter are never looked at, stored or logged.
"""

from __future__ import annotations

import logging

import redis
from flask import Blueprint, Response, current_app, request
from flask_babel import force_locale
from sqlalchemy.exc import OperationalError
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from tipline.sms import texts
from tipline.sms.inbound import InboundSms, Reply, handle
from tipline.sms.keywords import language_of
from workers.queues import enqueue_route_tip

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
    if reply is not None:
        with force_locale(reply.lang):
            response.message(" ".join(str(part) for part in reply.parts))
    return Response(str(response), mimetype="application/xml")


@bp.post("/inbound")
def inbound() -> Response:
    if not signed_by_twilio():
        return Response("forbidden\n", status=403, mimetype="text/plain")
    runtime = _runtime()
    form = request.form
    try:
        num_media = max(0, min(int(form.get("NumMedia", "0") or 0), 10))
    except ValueError:
        num_media = 0
    sms = InboundSms(
        number=form.get("From", "").strip(),
        body=form.get("Body", ""),
        num_media=num_media,
        opt_out=form.get("OptOutType") or None,
    )
    try:
        reply = handle(runtime, sms)
    except OperationalError:
        # Nothing was committed: ask the tipster to send it again (Twilio will not retry).
        log.error("database unavailable: SMS not taken")
        return _twiml(Reply(language_of(sms.body), (texts.unavailable(),)))
    if reply is not None and reply.route_tip_id is not None:
        try:
            enqueue_route_tip(runtime, reply.route_tip_id)
        except redis.RedisError as exc:
            log.warning("route_tip deferred to the sweeper (%s)", type(exc).__name__)
    return _twiml(reply)


@bp.post("/status")
def status() -> Response:
    """Delivery status of a text we sent. Checked and acknowledged; nothing is stored."""
    if not signed_by_twilio():
        return Response("forbidden\n", status=403, mimetype="text/plain")
    return Response("", status=204)
