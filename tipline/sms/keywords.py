"""What a text message means before it is a tip: a keyword, a menu answer, or words."""

from __future__ import annotations

import re
import unicodedata
from enum import Enum


class Keyword(Enum):
    STOP = "stop"
    HELP = "help"
    START = "start"
    DONE = "done"
    NEW = "new"
    SKIP = "skip"
    LANG_EN = "lang-en"
    LANG_FR = "lang-fr"


# Carriers' and Twilio's opt-out words, in English and French.
_WORDS = {
    Keyword.STOP: {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ARRET", "ARRETER"},
    Keyword.HELP: {"HELP", "INFO", "AIDE"},
    Keyword.START: {"START", "UNSTOP", "YES", "DEBUT", "REPRENDRE"},
    Keyword.DONE: {"DONE", "FIN", "TERMINE"},
    Keyword.NEW: {"NEW", "NOUVEAU", "NEW TIP", "NOUVEAU SIGNALEMENT"},
    Keyword.SKIP: {"SKIP", "PASSER", "PASS"},
    Keyword.LANG_EN: {"LANG", "ENGLISH", "ANGLAIS", "LANG EN", "LANGUE EN"},
    Keyword.LANG_FR: {"LANGUE", "FRANCAIS", "FRENCH", "LANG FR", "LANGUE FR"},
}
_BY_WORD = {word: keyword for keyword, words in _WORDS.items() for word in words}

# A first message in French usually starts with one of these.
_FRENCH_STARTS = {
    "bonjour", "allo", "allô", "salut", "bonsoir", "je", "j'ai", "j’ai", "il", "elle", "ils",
    "on", "le", "la", "les", "un", "une", "des", "ma", "mon", "mes", "ce", "cette", "il y a",
    "aide", "signalement", "voici", "depuis", "chaque", "tous",
}  # fmt: skip


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.upper().split()).strip(".!")


def keyword(body: str) -> Keyword | None:
    """The keyword a whole message is, if it is one ("Stop", "ARRÊT!", "langue fr")."""
    return _BY_WORD.get(_folded(body))


def language_of(body: str) -> str:
    """French when the first word says so, else English."""
    words = body.strip().lower().split()
    if not words:
        return "en"
    first = words[0].strip(",.!?:;")
    return "fr" if first in _FRENCH_STARTS or " ".join(words[:3]).startswith("il y a") else "en"


def menu_number(body: str) -> int | None:
    """A menu answer: a number alone ("3", " 3.", "#3")."""
    match = re.fullmatch(r"\s*#?\s*(\d{1,2})\s*[.)]?\s*", body)
    return int(match.group(1)) if match else None


_POSTAL = re.compile(r"([A-Z]\d[A-Z])(\d[A-Z]\d)?")


def postal_code(body: str) -> str | None:
    """A Canadian postal code or its first three characters, alone in a message."""
    code = re.sub(r"[\s-]", "", body).upper()
    return code if _POSTAL.fullmatch(code) else None
