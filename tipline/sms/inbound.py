"""One inbound text: a keyword, a menu answer, or words for a tip. Returns the reply.

The phone number is used here, in memory, only to find the conversation (pseudonym),
open its state, and seal the reply handle; it is never stored or logged in clear.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import redis
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from tipline import outbox
from tipline.crypto import load_private_key, relay
from tipline.db import transaction
from tipline.followup.thread import TIPSTER, post_message
from tipline.intake.service import UNKNOWN_ZONE, TipSubmission, accept_tip, reroute_tip
from tipline.models import ReplyHandle, Tip
from tipline.models.base import truncated_now
from tipline.outbox import Work
from tipline.runtime import Runtime
from tipline.sms import conversation as conversations
from tipline.sms import provider, texts
from tipline.sms.conversation import ASK_CATEGORY, ASK_ZONE, FINISHED, NEW, OPEN, Conversation
from tipline.sms.keywords import Keyword, keyword, language_of, menu_number, postal_code
from tipline.stats.rollup import tracking
from tipline.triage.config import PRIORITIES
from tipline.triage.routing import has_urgent_words

MAX_BODY = 1600  # Twilio's own limit for one (concatenated) message
MAX_MEDIA = 10  # Twilio's own limit per MMS
PROVISIONAL_CATEGORY = "other"  # until the tipster picks one from the menu


@dataclass(frozen=True)
class InboundSms:
    number: str = field(repr=False)  # E.164, as Twilio sends From
    body: str = field(repr=False)
    message_sid: str = ""  # deleted at Twilio once what we keep of it is committed
    media: tuple[str, ...] = field(default=(), repr=False)  # Twilio media URLs (MMS)
    opt_out: str | None = None  # Twilio's OptOutType: STOP, START or HELP


@dataclass(frozen=True)
class Reply:
    lang: str
    parts: tuple[object, ...]  # texts (lazy) and plain strings, joined with a space
    work: tuple[Work, ...] = ()  # committed outbox rows to enqueue after the answer


def handle(runtime: Runtime, sms: InboundSms) -> Reply | None:
    """The answer to one text. Raises SQLAlchemy's OperationalError when the database is
    down and nothing was written (the webhook asks the tipster to send it again)."""
    word = keyword(sms.body)
    if sms.opt_out == "STOP" or word is Keyword.STOP:
        work = stop(runtime, sms)
        # Twilio (or the carrier) confirms the opt-out itself: no answer of ours.
        return Reply(language_of(sms.body), (), work) if work else None
    try:
        conversation = conversations.load(runtime, sms.number)
        state_available = True
    except redis.RedisError:
        conversation, state_available = None, False
    lang = conversation.lang if conversation else language_of(sms.body)
    if sms.opt_out == "START" or word is Keyword.START:
        if state_available:
            with contextlib.suppress(redis.RedisError):
                conversations.clear_stopped(runtime, sms.number)
        return Reply(lang, (texts.resumed(),), _purge_alone(runtime, sms))
    if word is Keyword.NEW:
        # The next text starts a new tip (after DONE, texts join the last one).
        with contextlib.suppress(redis.RedisError):
            conversations.forget(runtime, sms.number)
        return Reply(lang, (texts.new_tip(),), _purge_alone(runtime, sms))
    if sms.opt_out == "HELP" or word is Keyword.HELP:
        return Reply(lang, (texts.help_text(),), _purge_alone(runtime, sms))
    if word in (Keyword.LANG_EN, Keyword.LANG_FR):
        lang = "fr" if word is Keyword.LANG_FR else "en"
        conversation = conversation or Conversation(step=NEW, lang=lang)
        conversation.lang = lang
        _save(runtime, sms.number, conversation)
        return Reply(lang, (texts.language_set(),), _purge_alone(runtime, sms))
    if len(sms.body) > MAX_BODY:
        # Nothing stored (its media neither): the tipster sends it again, shorter.
        return Reply(lang, (texts.too_long(MAX_BODY),), _purge_alone(runtime, sms))
    if not sms.body.strip() and not sms.media:
        return Reply(lang, (texts.empty(),), _purge_alone(runtime, sms))
    media = (texts.media_received(),) if sms.media else ()

    if conversation is None or conversation.step == NEW or conversation.tip_id is None:
        return _start(runtime, sms, lang, state_available)
    with transaction(runtime.sessions) as session:
        tip = session.get(Tip, conversation.tip_id)
        if tip is None:  # deleted (retention) while the conversation lived: start afresh
            conversations.forget(runtime, sms.number)
            return _start(runtime, sms, lang, state_available)
        _touch_handle(session, runtime, tip.id)
        if conversation.step == ASK_CATEGORY:
            parts = _answer_category(runtime, session, tip, conversation, sms.body)
        elif conversation.step == ASK_ZONE:
            parts = _answer_zone(runtime, session, tip, conversation, sms.body, word)
        elif word is Keyword.DONE:
            # Finished for now, not forgotten: an answer to an investigator's question
            # must join this tip, not start a new one (NEW does that).
            conversation.step = FINISHED
            parts = (texts.done(),)
        else:
            _add_text(runtime, session, tip, conversation, sms.body)
            parts = (texts.added(),) if conversation.step == OPEN else (texts.added_after_done(),)
            if sms.body.strip():
                tip.reply_waiting = True  # the queue flags what the tipster added
        work = _provider_work(session, runtime, sms, tip.id, lang)
    _save(runtime, sms.number, conversation)
    return Reply(lang, (*parts, *media), work)


def stop(runtime: Runtime, sms: InboundSms) -> tuple[Work, ...]:
    """STOP: no text of ours may reach this number again. Every reply handle that opens
    to it is deleted (not only the live conversation's: an older tip, a conversation
    ended with DONE, or one whose Redis state was lost), the STOP is remembered in Redis
    for the worker to check before any text, and the conversation is forgotten. Either
    store alone is enough to keep the promise; the STOP text is deleted at Twilio."""
    stopped_in_redis = True
    try:
        conversations.mark_stopped(runtime, sms.number)
        conversations.forget(runtime, sms.number)
    except redis.RedisError:
        stopped_in_redis = False
    try:
        with transaction(runtime.sessions) as session:
            delete_handles_of(session, runtime.settings.relay_key, sms.number)
            return _provider_work(session, runtime, sms, None)
    except SQLAlchemyError:
        if not stopped_in_redis:
            raise  # neither store took the STOP: the webhook asks to send it again
        return ()


def delete_handles_of(session: Session, relay_key: bytes, number: str) -> int:
    """Delete every reply handle that opens to ``number``; how many went."""
    rows = session.execute(
        select(ReplyHandle.id, ReplyHandle.sealed_number, Tip.reference).join(
            Tip, Tip.id == ReplyHandle.tip_id
        )
    ).all()
    ids = [
        handle_id
        for handle_id, sealed, reference in rows
        if relay.handle_is_for(relay_key, reference, sealed, number)
    ]
    if ids:
        session.execute(delete(ReplyHandle).where(ReplyHandle.id.in_(ids)))
    return len(ids)


def _provider_work(
    session: Session, runtime: Runtime, sms: InboundSms, tip_id: int | None, lang: str = "en"
) -> tuple[Work, ...]:
    """Stage what must happen at Twilio once this text is committed: fetch its media
    (which then deletes the message), or delete the message now."""
    if not provider.is_message_sid(sms.message_sid):
        return ()
    settings = runtime.settings
    if tip_id is not None and sms.media:
        job = outbox.FETCH_MEDIA
        payload = {"message_sid": sms.message_sid, "media": list(sms.media), "lang": lang}
    else:
        job, tip_id, payload = outbox.PURGE_MESSAGE, None, {"sid": sms.message_sid}
    return (
        outbox.add(
            session,
            job,
            tip_id=tip_id,
            payload=payload,
            relay_key=settings.relay_key,
            granularity_minutes=settings.time_granularity_minutes,
        ),
    )


def _purge_alone(runtime: Runtime, sms: InboundSms) -> tuple[Work, ...]:
    """A text that adds nothing to a tip (a keyword, a refusal): only delete it at
    Twilio. If the database is down the answer still goes out; the message stays at
    Twilio until the provider sweep."""
    try:
        with transaction(runtime.sessions) as session:
            return _provider_work(session, runtime, sms, None)
    except SQLAlchemyError:
        return ()


def _save(runtime: Runtime, number: str, conversation: Conversation) -> None:
    # Without Redis the tip is still committed; the next text starts a new conversation.
    with contextlib.suppress(redis.RedisError):
        conversations.save(runtime, number, conversation)


def _start(runtime: Runtime, sms: InboundSms, lang: str, state_available: bool) -> Reply:
    settings = runtime.settings
    submission = TipSubmission(
        category=PROVISIONAL_CATEGORY,
        zone=UNKNOWN_ZONE,
        description=sms.body,
        lang=lang,
        channel="sms",
    )
    with transaction(runtime.sessions) as session:
        # Until the menu is answered the tip sits with the "needs zone" desk, so a tipster
        # who never answers still reaches a person.
        receipt = accept_tip(
            session,
            runtime.config,
            runtime.recovery_public,
            submission,
            max_chars=settings.max_description_chars,
            granularity_minutes=settings.time_granularity_minutes,
            min_chars=0,
            keep_tip_key=state_available,
        )
        session.add(
            ReplyHandle(
                tip_id=receipt.tip_id,
                sealed_number=relay.seal_reply_handle(
                    settings.relay_key, receipt.reference, sms.number
                ),
                last_message_at=truncated_now(settings.time_granularity_minutes),
            )
        )
        work = (
            Work(outbox.ROUTE_TIP, receipt.outbox_id, receipt.tip_id),
            *_provider_work(session, runtime, sms, receipt.tip_id, lang),
        )
    media = (texts.media_received(),) if sms.media else ()
    if not state_available or receipt.tip_key is None:
        return Reply(lang, (texts.received(receipt.reference), *media), work)
    conversation = Conversation(
        step=ASK_CATEGORY,
        lang=lang,
        tip_id=receipt.tip_id,
        reference=receipt.reference,
        urgent=has_urgent_words(runtime.config, sms.body),
        tip_key=receipt.tip_key.raw.hex(),
    )
    _save(runtime, sms.number, conversation)
    parts = (texts.started(receipt.reference), texts.category_menu(runtime.config), *media)
    return Reply(lang, parts, work)


def _add_text(
    runtime: Runtime, session: Session, tip: Tip, conversation: Conversation, body: str
) -> None:
    if not body.strip():
        return
    post_message(session, tip, TIPSTER, body, runtime.settings.time_granularity_minutes)
    if has_urgent_words(runtime.config, body) and not tip.urgent_words:
        # Only the fact of a match is kept, and the tip moves one priority step up.
        conversation.urgent = True
        with tracking(session, [tip.id]):  # statistics count tips by priority
            tip.urgent_words = True
            tip.priority = PRIORITIES[max(PRIORITIES.index(tip.priority) - 1, 0)]


def _answer_category(
    runtime: Runtime, session: Session, tip: Tip, conversation: Conversation, body: str
) -> tuple[object, ...]:
    number = menu_number(body)
    chosen = next((c.id for c in runtime.config.categories.values() if c.sms_menu == number), None)
    if chosen is None:
        _add_text(runtime, session, tip, conversation, body)
        return (texts.not_a_choice(), texts.category_menu(runtime.config))
    conversation.category = chosen
    conversation.step = ASK_ZONE
    return (texts.zone_question(), texts.zone_menu(runtime.config))


def _answer_zone(
    runtime: Runtime,
    session: Session,
    tip: Tip,
    conversation: Conversation,
    body: str,
    word: Keyword | None,
) -> tuple[object, ...]:
    config = runtime.config
    zone: str | None = None
    if word is Keyword.SKIP:
        pass
    elif (code := postal_code(body)) is not None:
        found = config.zone_for_postal_code(code)
        zone = found.id if found else None
        # The postal code itself is content (it can point at a home): sealed, not clear.
        _add_text(runtime, session, tip, conversation, body)
    elif (number := menu_number(body)) is not None:
        zones = dict(texts.numbered_zones(config))
        if number not in zones:
            return (texts.not_a_choice(), texts.zone_menu(config))
        zone = zones[number].id  # type: ignore[attr-defined]
    else:
        _add_text(runtime, session, tip, conversation, body)
        return (texts.zone_question(), texts.zone_menu(config))
    if conversation.tip_key is not None and conversation.category is not None:
        reroute_tip(
            session,
            config,
            tip,
            load_private_key(bytes.fromhex(conversation.tip_key)),
            zone=zone,
            category=conversation.category,
            urgent=conversation.urgent or tip.urgent_words,
        )
    conversation.step = OPEN
    conversation.tip_key = None  # routed: the conversation no longer needs the tip key
    return (texts.open_for_more(),)


def _touch_handle(session: Session, runtime: Runtime, tip_id: int) -> None:
    """The reply handle lives until N days after the tipster's last message."""
    handle = session.query(ReplyHandle).filter_by(tip_id=tip_id).first()
    if handle is not None:
        handle.last_message_at = truncated_now(runtime.settings.time_granularity_minutes)
