"""Texts to SMS tipsters through the reply handle, and deleting messages at Twilio.

Both run in the worker, from outbox rows (tipline.outbox), and are idempotent: the row
is deleted in the same transaction that records the effect, and a second delivery of
the job finds no row and does nothing.

* :func:`send_text` — an investigator's question (or a notice about refused media) to
  the tipster: the number comes from the reply handle, opened with the relay key only
  here, in memory. Staff never see it. Without Twilio credentials (the embedded demo)
  the text is written to the log instead, with the number and the words withheld.
* :func:`purge_message` — delete a message and its media at Twilio: every inbound text
  once it is sealed and committed, every text we sent once it is final.
* :func:`sweep_provider` — delete whatever is still at Twilio after a grace period:
  texts we answered "send it again" to (database down), webhooks that never reached
  us, anything the outbox missed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tipline import outbox
from tipline.crypto import relay
from tipline.db import transaction
from tipline.errors import TooLarge
from tipline.i18n import _l, render_in
from tipline.models import OutboxEntry, ReplyHandle, Tip
from tipline.outbox import Work
from tipline.runtime import Runtime
from tipline.sms import conversation as conversations
from tipline.sms import provider, texts
from tipline.sms.media import NOTICE_TOO_LARGE, NOTICE_UNSUPPORTED

log = logging.getLogger("tipline.sms.outbound")

SENT = "sent"
LOGGED = "logged"  # no Twilio credentials: written to the log, redacted
UNREACHABLE = "unreachable"  # no reply handle (STOP, expired) or Twilio says opted out
REFUSED = "refused"  # Twilio refused for good (invalid number, …)

MAX_TEXT = 1600  # Twilio's limit for one (concatenated) message

_NOTICES = {NOTICE_UNSUPPORTED: texts.media_unsupported, NOTICE_TOO_LARGE: texts.media_too_large}


@dataclass(frozen=True)
class SendResult:
    outcome: str  # SENT, LOGGED, UNREACHABLE or REFUSED
    work: tuple[Work, ...] = ()  # committed outbox rows to enqueue (purge of what we sent)


def has_reply_handle(session: Session, tip_id: int) -> bool:
    return session.scalar(select(ReplyHandle.id).where(ReplyHandle.tip_id == tip_id)) is not None


def queue_text(session: Session, runtime: Runtime, tip: Tip, text: str) -> Work | None:
    """Stage an investigator's message to an SMS tipster (the caller commits, then
    enqueues the Work). None when the tipster can no longer be texted (STOP, expired).

    The text is sealed under the relay key for the worker, which alone opens the handle;
    the message itself is sealed to the tip as well (followup.thread.post_message)."""
    if len(text) > MAX_TEXT:
        raise TooLarge(
            _l("A text message to the tipster is at most %(n)s characters.", n=MAX_TEXT),
            field="message",
        )
    if not has_reply_handle(session, tip.id):
        return None
    return outbox.add(
        session,
        outbox.SEND_SMS,
        tip_id=tip.id,
        payload={"text": text},
        relay_key=runtime.settings.relay_key,
        granularity_minutes=runtime.settings.time_granularity_minutes,
    )


def status_callback_url(runtime: Runtime) -> str:
    return runtime.settings.public_url.rstrip("/") + "/sms/status"


def send_text(runtime: Runtime, outbox_id: int) -> SendResult | None:
    """Do one ``send_sms`` row; None when it was done (or started) before.

    At most once: the row is claimed, and the claim committed, before the text goes to
    Twilio. If Twilio could not have accepted it (unreachable, 5xx) the claim is undone
    and the job retried; if it might have (the answer was lost), the row stays claimed
    for a person to check, rather than texting the tipster twice."""
    settings = runtime.settings
    with transaction(runtime.sessions) as session:
        entry = session.get(OutboxEntry, outbox_id)
        if entry is None or entry.job != outbox.SEND_SMS:
            return None
        if entry.claimed:
            log.error("text for outbox %d was interrupted while sending; needs a person", outbox_id)
            return None
        payload = outbox.payload_of(entry, settings.relay_key)
        tip = session.get(Tip, entry.tip_id) if entry.tip_id is not None else None
        handle = (
            session.scalars(select(ReplyHandle).where(ReplyHandle.tip_id == tip.id)).first()
            if tip is not None
            else None
        )
        reference = tip.reference if tip is not None else ""
        sealed_number = handle.sealed_number if handle is not None else None
    if tip is None or sealed_number is None:
        # The tipster texted STOP, or the conversation expired: nobody to text any more.
        _finish(runtime, outbox_id)
        log.info("text for outbox %d not sent: no reply handle", outbox_id)
        return SendResult(UNREACHABLE)

    if "notice" in payload:
        notice = _NOTICES[payload["notice"]]
        body = render_in(payload.get("lang", "en"), notice())
    else:
        body = payload["text"]
    client = provider.make_client(settings)
    if client is None:
        _finish(runtime, outbox_id)
        log.info(
            "SMS not sent (Twilio is not configured): to [number withheld] for tip %s, "
            "%d characters [text withheld]",
            reference,
            len(body),
        )
        return SendResult(LOGGED)
    number = relay.open_reply_handle(settings.relay_key, reference, sealed_number)
    try:
        if conversations.is_stopped(runtime, number):
            # A STOP the database did not take (it was down): honour it now.
            _forget_handle(runtime, tip.id, outbox_id)
            log.info("text for tip %s not sent: the tipster texted STOP", reference)
            return SendResult(UNREACHABLE)
        if not _claim(runtime, outbox_id):
            return None
        try:
            sid = provider.send_sms(
                client, settings, number, body, status_callback=status_callback_url(runtime)
            )
        except provider.OptedOut:
            # Twilio's own opt-out list (the tipster texted STOP to the carrier): the
            # handle is useless now, so it goes, as with our STOP.
            _forget_handle(runtime, tip.id, outbox_id)
            log.info("text for tip %s not sent: the tipster opted out; handle deleted", reference)
            return SendResult(UNREACHABLE)
        except provider.ProviderError as exc:
            if exc.retryable and not exc.maybe_accepted:
                _claim(runtime, outbox_id, undo=True)
                raise
            if exc.retryable:
                log.error(
                    "text for tip %s: Twilio's answer was lost, it may have been sent; "
                    "needs a person (outbox %d)",
                    reference,
                    outbox_id,
                )
                return SendResult(REFUSED)
            _finish(runtime, outbox_id)
            log.warning("text for tip %s refused by Twilio (error %s)", reference, exc.code)
            return SendResult(REFUSED)
    finally:
        del number
    # Sent: the outbound message is deleted at Twilio once final (the status callback
    # asks sooner; this row makes sure of it even if the callback never comes).
    purge = _finish(runtime, outbox_id, purge_sid=sid)
    return SendResult(SENT, purge)


def _claim(runtime: Runtime, outbox_id: int, undo: bool = False) -> bool:
    with transaction(runtime.sessions) as session:
        result = session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id == outbox_id, OutboxEntry.claimed.is_(undo))
            .values(claimed=not undo)
        )
    return getattr(result, "rowcount", 0) == 1


def _forget_handle(runtime: Runtime, tip_id: int, outbox_id: int) -> None:
    with transaction(runtime.sessions) as session:
        session.execute(delete(ReplyHandle).where(ReplyHandle.tip_id == tip_id))
        session.execute(delete(OutboxEntry).where(OutboxEntry.id == outbox_id))


def _finish(runtime: Runtime, outbox_id: int, purge_sid: str | None = None) -> tuple[Work, ...]:
    with transaction(runtime.sessions) as session:
        session.execute(delete(OutboxEntry).where(OutboxEntry.id == outbox_id))
        if purge_sid is None:
            return ()
        return (purge_work(runtime, session, purge_sid),)


def purge_work(runtime: Runtime, session: Session, sid: str) -> Work:
    """Stage a ``purge_message`` row for Twilio message ``sid`` in ``session``."""
    return outbox.add(
        session,
        outbox.PURGE_MESSAGE,
        tip_id=None,
        payload={"sid": sid},
        relay_key=runtime.settings.relay_key,
        granularity_minutes=runtime.settings.time_granularity_minutes,
    )


def purge_message(runtime: Runtime, outbox_id: int) -> provider.DeleteResult | None:
    """Do one ``purge_message`` row; None when it was done before.

    Raises :class:`provider.TooSoon` while Twilio still refuses (20009: not final yet) and
    other retryable :class:`provider.ProviderError`: the row stays, the job is retried."""
    settings = runtime.settings
    with transaction(runtime.sessions) as session:
        entry = session.get(OutboxEntry, outbox_id)
        if entry is None or entry.job != outbox.PURGE_MESSAGE:
            return None
        sid = outbox.payload_of(entry, settings.relay_key)["sid"]
    client = provider.make_client(settings)
    if client is None:
        raise provider.ProviderError("Twilio is not configured: cannot delete messages")
    # Any refusal leaves the row: retried with backoff, then swept, then reported.
    result = provider.delete_message(client, sid)
    _finish(runtime, outbox_id)
    return result


# Long enough for the media fetch and purge retries to have run their course; a message
# older than this at Twilio was missed (or never reached us) and goes.
PROVIDER_GRACE = timedelta(hours=48)


def sweep_provider(runtime: Runtime, now: datetime, limit: int = 1000) -> int:
    """Delete the tip line's messages still at Twilio past :data:`PROVIDER_GRACE`;
    returns how many went. A message whose media is still waiting to be fetched is left
    alone. Twilio unreachable: raises (the next sweep tries again)."""
    settings = runtime.settings
    client = provider.make_client(settings)
    if client is None:
        return 0
    with transaction(runtime.sessions) as session:
        waiting = {
            outbox.payload_of(entry, settings.relay_key)["message_sid"]
            for entry in session.scalars(
                select(OutboxEntry).where(OutboxEntry.job == outbox.FETCH_MEDIA)
            )
        }
    deleted = 0
    for sid in provider.old_message_sids(client, settings, now - PROVIDER_GRACE, limit):
        if sid in waiting:
            continue
        try:
            if provider.delete_message(client, sid) is provider.DeleteResult.DELETED:
                deleted += 1
        except provider.ProviderError as exc:
            # Not final yet (20009), or refused: the next sweep tries again.
            log.info("provider sweep: a message was not deleted (error %s)", exc.code)
    if deleted:
        log.info("provider sweep deleted %d message(s) left at Twilio", deleted)
    return deleted
