"""One inbound text: a keyword, a menu answer, or words for a tip. Returns the reply.

The phone number is used here, in memory, only to find the conversation (pseudonym),
open its state, and seal the reply handle; it is never stored or logged in clear.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import redis
from sqlalchemy.orm import Session

from tipline.crypto import load_private_key, relay
from tipline.db import transaction
from tipline.followup.thread import TIPSTER, post_message
from tipline.intake.service import UNKNOWN_ZONE, TipSubmission, accept_tip, reroute_tip
from tipline.models import ReplyHandle, Tip
from tipline.models.base import truncated_now
from tipline.runtime import Runtime
from tipline.sms import conversation as conversations
from tipline.sms import texts
from tipline.sms.conversation import ASK_CATEGORY, ASK_ZONE, NEW, OPEN, Conversation
from tipline.sms.keywords import Keyword, keyword, language_of, menu_number, postal_code
from tipline.triage.config import PRIORITIES
from tipline.triage.routing import has_urgent_words

MAX_BODY = 1600  # Twilio's own limit for one (concatenated) message
PROVISIONAL_CATEGORY = "other"  # until the tipster picks one from the menu


@dataclass(frozen=True)
class InboundSms:
    number: str = field(repr=False)  # E.164, as Twilio sends From
    body: str = field(repr=False)
    num_media: int = 0
    opt_out: str | None = None  # Twilio's OptOutType: STOP, START or HELP


@dataclass(frozen=True)
class Reply:
    lang: str
    parts: tuple[object, ...]  # texts (lazy) and plain strings, joined with a space
    route_tip_id: int | None = None  # a new tip to enqueue for routing after the commit


def handle(runtime: Runtime, sms: InboundSms) -> Reply | None:
    word = keyword(sms.body)
    if sms.opt_out == "STOP" or word is Keyword.STOP:
        stop(runtime, sms.number)
        return None  # Twilio (or the carrier) confirms the opt-out itself
    try:
        conversation = conversations.load(runtime, sms.number)
        state_available = True
    except redis.RedisError:
        conversation, state_available = None, False
    lang = conversation.lang if conversation else language_of(sms.body)
    if sms.opt_out == "START" or word is Keyword.START:
        return Reply(lang, (texts.resumed(),))
    if sms.opt_out == "HELP" or word is Keyword.HELP:
        return Reply(lang, (texts.help_text(),))
    if word in (Keyword.LANG_EN, Keyword.LANG_FR):
        lang = "fr" if word is Keyword.LANG_FR else "en"
        conversation = conversation or Conversation(step=NEW, lang=lang)
        conversation.lang = lang
        _save(runtime, sms.number, conversation)
        return Reply(lang, (texts.language_set(),))
    if len(sms.body) > MAX_BODY:
        return Reply(lang, (texts.too_long(MAX_BODY),))  # nothing stored
    if not sms.body.strip() and not sms.num_media:
        return Reply(lang, (texts.empty(),))
    media = (texts.media_not_yet(),) if sms.num_media else ()

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
            conversations.forget(runtime, sms.number)
            return Reply(lang, (texts.done(),))
        else:
            _add_text(runtime, session, tip, conversation, sms.body)
            parts = (texts.added(),)
    _save(runtime, sms.number, conversation)
    return Reply(lang, (*parts, *media))


def stop(runtime: Runtime, number: str) -> None:
    """STOP: forget the conversation and delete its reply handle; nothing is stored."""
    try:
        conversation = conversations.load(runtime, number)
    except redis.RedisError:
        # Without Redis we cannot find the conversation; the handle expires with it anyway.
        return
    if conversation is not None and conversation.tip_id is not None:
        with transaction(runtime.sessions) as session:
            handle = session.query(ReplyHandle).filter_by(tip_id=conversation.tip_id).first()
            if handle is not None:
                session.delete(handle)
    with contextlib.suppress(redis.RedisError):
        conversations.forget(runtime, number)


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
    media = (texts.media_not_yet(),) if sms.num_media else ()
    if not state_available or receipt.tip_key is None:
        return Reply(lang, (texts.received(receipt.reference), *media), receipt.tip_id)
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
    return Reply(lang, parts, receipt.tip_id)


def _add_text(
    runtime: Runtime, session: Session, tip: Tip, conversation: Conversation, body: str
) -> None:
    if not body.strip():
        return
    post_message(session, tip, TIPSTER, body, runtime.settings.time_granularity_minutes)
    if has_urgent_words(runtime.config, body) and not tip.urgent_words:
        # Only the fact of a match is kept, and the tip moves one priority step up.
        conversation.urgent = True
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
