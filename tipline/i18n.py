"""The tipster's language: English and French (Flask-Babel).

User-visible text in Python is marked with ``_l`` (lazy: translated when shown, in the
language of the request that shows it, so domain code stays free of Flask) and uses
``%(name)s`` placeholders, never f-strings: ``_l("At most %(n)s files.", n=10)``.
Templates use ``_()``.

How the language is chosen, without a cookie: a language cookie would be one more thing
a tipster's browser keeps about us, so the choice travels in the page instead. The order:

1. ``?lang=`` in the address: the "Français"/"English" links in the header, and every
   tipster link and form action we render carry it (the form posts to ``/tip?lang=fr``,
   so even a body too large to read is answered in the right language);
2. on POST, the form's hidden ``lang`` field (the language the page was shown in);
3. the browser's Accept-Language;
4. English.

Staff pages and the API stay English whatever the browser says.

Catalogs live in ``tipline/translations/``; both the ``.po`` and the compiled ``.mo`` are
committed so a fresh clone works without a build step, and tests/intake/test_i18n.py
fails when the ``.mo`` is stale or when any extracted message lacks a French
translation. Commands: ``make translations`` (see the Makefile).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Flask, current_app, has_request_context, request, url_for
from flask_babel import Babel, force_locale, get_locale
from flask_babel import gettext as _
from flask_babel.speaklater import LazyString
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"
# Each language named in itself: a link to a language must be readable by its speakers.
LANGUAGE_NAMES = {"en": "English", "fr": "Français"}
# Staff and integrations work in English (issue 3); only tipster pages are translated.
_ENGLISH_ONLY_PATHS = ("/staff", "/api/", "/healthz")
# Staff pages that supervisors show to boards and chiefs, in either language.
_BILINGUAL_STAFF_PATHS = ("/staff/stats",)

babel = Babel()


class LazyText(LazyString):
    """A lazily translated message that Jinja escapes like any other text.

    Flask-Babel's LazyString declares ``__html__`` as the plain string, which tells Jinja
    it is already safe HTML: a message carrying a file name or other input would then
    reach the page unescaped.
    """

    def __html__(self) -> Markup:
        return escape(str(self))


def _l(string: str, **variables: object) -> LazyText:
    """Mark ``string`` for translation, translated each time it is shown (see above)."""
    return LazyText(_, string, **variables)


def _supported(value: object) -> str | None:
    text = str(value or "").strip().lower()
    return text if text in LANGUAGES else None


def tipster_facing() -> bool:
    """A page for tipsters (translated), not for staff or integrations (English)."""
    return has_request_context() and not request.path.startswith(_ENGLISH_ONLY_PATHS)


def translated() -> bool:
    """A page shown in the reader's language: every tipster page, and the few staff
    pages meant for reports (the statistics dashboard)."""
    return tipster_facing() or (
        has_request_context() and request.path.startswith(_BILINGUAL_STAFF_PATHS)
    )


def _form_language() -> str | None:
    if request.method != "POST":
        return None
    try:
        # Usually parsed already (CSRF check, the view). A body too large to parse
        # raises here or yields an empty form: then the next rule decides.
        return _supported(request.form.get("lang"))
    except HTTPException:
        return None


def chosen_language() -> str | None:
    """The language the tipster picked on the page, if any (not the browser's default)."""
    if not translated():
        return None
    return _supported(request.args.get("lang")) or _form_language()


def select_language() -> str:
    """Flask-Babel's locale selector: the order is in this module's docstring."""
    if not translated():
        return DEFAULT_LANGUAGE
    return chosen_language() or request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def localized_name(names: Mapping[str, str]) -> str:
    """A config label (category, zone, province) in the current language, else English."""
    return names.get(current_language()) or names[DEFAULT_LANGUAGE]


def name_sort_key(text: str) -> str:
    # Alphabetical as a reader expects it ("Île" next to "Ile", not after "Z"); the
    # standard library has no locale-aware collation that works the same everywhere.
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def localized_url(endpoint: str, **values: Any) -> str:
    """``url_for`` that keeps the tipster's language choice in the address."""
    return url_for(endpoint, **values, lang=current_language())


def language_url(language: str) -> str:
    """This page in another language. A GET page links to itself; anything else (a form
    shown again after a POST, an error) links to the tip form."""
    if request.method == "GET" and request.endpoint and request.endpoint != "static":
        # The same path with the same query, only ``lang`` replaced: built from the
        # request rather than url_for, whose reserved names (endpoint, _anchor, _method…)
        # a crafted query could otherwise fill in, or crash the page with.
        args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
        query = urlencode([*args, ("lang", language)])
        return f"{request.script_root}{request.path}?{query}"
    return url_for("intake.tip_form", lang=language)


def _template_context() -> dict[str, object]:
    language = current_language()
    tipster = tipster_facing()
    return {
        "lang": language,
        "tipster_page": tipster,
        "language_links": [
            (code, LANGUAGE_NAMES[code], language_url(code))
            for code in LANGUAGES
            if code != language and translated()
        ],
        "localized_name": localized_name,
        "localized_url": localized_url,
        "endpoint_exists": lambda endpoint: endpoint in current_app.view_functions,
    }


_catalog_app: Flask | None = None


def render_in(language: str, *parts: object) -> str:
    """``parts`` (lazy texts and plain strings) translated into ``language`` and joined
    with a space, outside any request: the worker's texts to SMS tipsters."""
    global _catalog_app
    if _catalog_app is None:
        app = Flask("tipline")  # root path: this package, where translations/ lives
        babel.init_app(app, default_locale=DEFAULT_LANGUAGE)
        _catalog_app = app
    with _catalog_app.app_context(), force_locale(_supported(language) or DEFAULT_LANGUAGE):
        return " ".join(str(part) for part in parts)


def init_i18n(app: Flask) -> None:
    # Catalogs in tipline/translations (relative to the app's root path).
    babel.init_app(app, default_locale=DEFAULT_LANGUAGE, locale_selector=select_language)
    app.context_processor(_template_context)


__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "_",
    "_l",
    "chosen_language",
    "current_language",
    "init_i18n",
    "localized_name",
    "localized_url",
    "name_sort_key",
    "render_in",
    "select_language",
]
