"""What the tip line texts back: short (one SMS segment where possible), never echoing
what the tipster wrote, in the conversation's language (rendered by the webhook)."""

from __future__ import annotations

from tipline.i18n import LazyText, _l, localized_name
from tipline.triage.config import TiplineConfig


def started(reference: str) -> object:
    return _l(
        "Tip line: received, ref %(ref)s. What is it about? Reply with a number:", ref=reference
    )


def received(reference: str) -> object:
    return _l("Tip line: received, ref %(ref)s. Thank you.", ref=reference)


def _category_menu(config: TiplineConfig) -> str:
    categories = sorted(config.categories.values(), key=lambda c: c.sms_menu)
    return " ".join(f"{c.sms_menu} {localized_name(c.names)}" for c in categories)


def category_menu(config: TiplineConfig) -> object:
    # Lazy like the other texts: rendered in the conversation's language, not the request's.
    return LazyText(_category_menu, config)


def zone_question() -> object:
    return _l("Where? Reply with a postal code (e.g. K1A), an area number, or SKIP:")


def zone_menu(config: TiplineConfig) -> str:
    return " ".join(
        f"{number} {localized_name(zone.names)}" for number, zone in numbered_zones(config)
    )


def numbered_zones(config: TiplineConfig) -> list[tuple[int, object]]:
    zones = sorted(config.zones.values(), key=lambda z: (z.province, z.id))
    return list(enumerate(zones, start=1))


def open_for_more() -> object:
    return _l("Thank you. Text anything else you know to this number. Text DONE when finished.")


def added() -> object:
    return _l("Added to your tip.")


def done() -> object:
    return _l(
        "Thank you. Investigators may text you questions here; your answers join this tip. "
        "Text NEW for a new tip, STOP to end all messages."
    )


def added_after_done() -> object:
    return _l("Added to your tip. Text NEW to send a new tip instead.")


def new_tip() -> object:
    return _l("Tip line: text your new tip.")


def help_text() -> object:
    return _l(
        "Anonymous tip line: we never see or keep your number. Text your tip. "
        "STOP ends messages. In an emergency call 911."
    )


def resumed() -> object:
    return _l("Tip line: messages are on again. Text your tip.")


def language_set() -> object:
    return _l("Tip line: language set. Text your tip.")


def empty() -> object:
    return _l("Tip line: your message was empty. Text what you know.")


def not_a_choice() -> object:
    return _l("Not on the list: reply with one of the numbers.")


def too_long(limit: int) -> object:
    return _l("Too long: please send at most %(n)s characters per message.", n=limit)


def media_received() -> object:
    return _l("Your photos will be added once hidden data (like location) is removed.")


def media_unsupported() -> object:
    return _l(
        "Tip line: a file you sent was not kept. We accept photos, PDF and Office files that open normally."
    )


def media_too_large() -> object:
    return _l("Tip line: a file you sent was too large and was not kept.")


def unavailable() -> object:
    return _l("Tip line: we could not take your message. Please send it again in a few minutes.")
