"""The tipster's pages in English and French: chosen on the page, then by the browser."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from sqlalchemy import select

from tests.support.forms import csrf_token, reference_from, submit_tip
from tests.support.html import page_of
from tipline.crypto import hierarchy as h
from tipline.models import SealedItem, Tip, TipKeyGrant

pytestmark = pytest.mark.embedded

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "tipline" / "translations" / "fr" / "LC_MESSAGES"
FRENCH = {"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"}
ENGLISH = {"Accept-Language": "en-CA,en;q=0.9"}
NBSP = "\u00a0"


def _html(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def _post_tip(client, path: str = "/tip", headers=None, **fields: str):  # type: ignore[no-untyped-def]
    data = {
        "category": "drugs",
        "zone": "on-north",
        "description": "A blue van delivers packages at night.",
        "lang": "fr",
        "csrf_token": csrf_token(client, "/tip"),
    }
    data.update(fields)
    # Multipart, as browsers send our form (it has a file input).
    return client.post(path, data=data, headers=headers or {}, content_type="multipart/form-data")


# --- choosing the language -------------------------------------------------------------


def test_a_french_browser_gets_the_french_form(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/tip", headers=FRENCH)
    page = page_of(response)
    assert response.status_code == 200
    assert page.lang == "fr"
    assert page.find_all("h1")[0].text == "Faire un signalement anonyme"
    assert "Send an anonymous tip" not in _html(response)
    # Config labels (categories, zones, provinces) in French too.
    category = page.by_id("category")
    labels = {o.get("value"): o.text for o in category.children if o.tag == "option"}
    assert labels["organized-crime"] == "Crime organisé"
    assert labels["drugs"] == "Drogues"
    assert page.find_all("optgroup", label="Québec")
    assert page.find_all("option", value="qc-quebec-city")[0].text == "Ville de Québec"
    # The form carries the language it is shown in, in the field and in its address.
    assert page.find_all("input", name="lang")[0].get("value") == "fr"
    assert page.find_all("form")[0].get("action") == "/tip?lang=fr"


def test_an_english_browser_gets_the_english_form(client) -> None:  # type: ignore[no-untyped-def]
    page = page_of(client.get("/tip", headers=ENGLISH))
    assert page.lang == "en"
    assert page.find_all("h1")[0].text == "Send an anonymous tip"
    assert page.find_all("input", name="lang")[0].get("value") == "en"


@pytest.mark.parametrize(
    ("query", "browser", "expected", "heading"),
    [
        ("fr", ENGLISH, "fr", "Faire un signalement anonyme"),
        ("en", FRENCH, "en", "Send an anonymous tip"),
        ("de", FRENCH, "fr", "Faire un signalement anonyme"),  # unknown: the browser decides
        ("", {}, "en", "Send an anonymous tip"),  # nothing at all: English
    ],
)
def test_the_lang_parameter_wins_over_the_browser(
    client, query, browser, expected, heading
) -> None:  # type: ignore[no-untyped-def]
    page = page_of(client.get(f"/tip?lang={query}" if query else "/tip", headers=browser))
    assert page.lang == expected
    assert page.find_all("h1")[0].text == heading
    assert page.find_all("input", name="lang")[0].get("value") == expected


def test_the_other_language_is_a_plain_link_without_a_cookie(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/tip?lang=fr", headers=ENGLISH)
    page = page_of(response)
    (link,) = page.find_all("a", hreflang="en")
    assert (link.get("href"), link.get("lang"), link.text) == ("/tip?lang=en", "en", "English")
    assert not page.find_all("a", hreflang="fr")  # no link to the page we are on
    # Following it gives the English page, still without any language cookie.
    english = client.get(link.get("href"), headers=FRENCH)
    assert page_of(english).lang == "en"
    assert page_of(english).find_all("a", hreflang="fr")[0].text == "Français"
    cookies = response.headers.getlist("Set-Cookie") + english.headers.getlist("Set-Cookie")
    assert not any("lang" in c.split("=", 1)[0] for c in cookies)


def test_the_front_page_keeps_the_choice(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/?lang=fr")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/tip?lang=fr")


def test_staff_pages_stay_english(client) -> None:  # type: ignore[no-untyped-def]
    page = page_of(client.get("/staff/login?lang=fr", headers=FRENCH))
    assert page.lang == "en"
    assert not page.find_all("nav", class_="languages")


# --- errors in the tipster's language --------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "french", "english"),
    [
        ({"category": ""}, "category", "Veuillez choisir le sujet", "choose what the tip is about"),
        ({"zone": "atlantis"}, "zone", "Ce secteur ne nous est pas connu", "not one we know"),
        ({"zone": "", "postal_code": "12345"}, "postal_code", "Ce code postal", "postal code does"),
        ({"zone": "", "lat": "north", "lon": "1"}, "lat", "point sur la carte", "map point"),
        ({"description": "short"}, "description", "au moins 10 caractères", "at least 10"),
    ],
)
def test_a_french_field_error_sits_next_to_its_field(  # type: ignore[no-untyped-def]
    client, fields, field, french, english
) -> None:
    response = _post_tip(client, headers=ENGLISH, **fields)
    assert response.status_code == 400
    page = page_of(response)
    assert page.lang == "fr"  # the form's lang wins over the browser
    assert english not in _html(response)
    message = page.by_id(f"{field}-error")
    assert french in message.text
    control = page.by_id(field)
    assert control.get("aria-invalid") == "true"
    assert f"{field}-error" in (control.get("aria-describedby") or "").split()
    # The summary at the top announces it and links to the field.
    summary = page.by_id("form-error")
    assert summary.get("role") == "alert"
    (link,) = [e for e in page.elements if e.tag == "a" and summary in e.ancestors()]
    assert link.get("href") == f"#{field}" and french in link.text
    # Only the field at fault is marked.
    invalid = {e.get("id") for e in page.elements if e.get("aria-invalid") == "true"}
    assert invalid <= {field, "lon"}


def test_an_error_on_a_hidden_field_is_in_the_summary_only(client) -> None:  # type: ignore[no-untyped-def]
    page = page_of(_post_tip(client, website="http://spam.example"))
    summary = page.by_id("form-error")
    assert "Laissez ce champ vide" in summary.text
    assert not [e for e in page.elements if e.tag == "a" and summary in e.ancestors()]
    assert not [e for e in page.elements if e.get("aria-invalid")]


def test_a_wrong_csrf_token_is_explained_in_french(client) -> None:  # type: ignore[no-untyped-def]
    csrf_token(client, "/tip")
    response = client.post(
        "/tip",
        data={"category": "drugs", "zone": "on-north", "description": "x" * 20, "lang": "fr"},
        headers=ENGLISH,
    )
    assert response.status_code == 400
    page = page_of(response)
    assert page.lang == "fr"
    assert "Ce formulaire a expiré" in page.by_id("error-message").text
    assert "This form expired" not in _html(response)
    response = _post_tip(client, headers=FRENCH, csrf_token="forged", lang="")
    assert "Ce formulaire a expiré" in _html(response)


def test_a_body_too_large_to_read_is_answered_in_the_pages_language(client, runtime) -> None:  # type: ignore[no-untyped-def]
    too_long = "x" * (runtime.settings.max_field_bytes + 10)
    # The form's address carries the language: it is known without reading the body.
    response = _post_tip(client, "/tip?lang=fr", headers=ENGLISH, description=too_long)
    assert response.status_code == 413
    page = page_of(response)
    assert page.lang == "fr"
    assert "Votre envoi est trop volumineux" in page.by_id("error-message").text


def test_a_request_over_the_size_limit_is_answered_in_the_pages_language(runtime) -> None:  # type: ignore[no-untyped-def]
    from tipline.app import create_app

    runtime.settings = runtime.settings.with_overrides(max_attachments_bytes=256 * 1024)
    client = create_app(runtime=runtime).test_client()
    huge = io.BytesIO(b"\0" * (runtime.settings.max_request_bytes + 1024))
    token = csrf_token(client, "/tip")
    response = client.post(
        "/tip?lang=en",
        data={"lang": "en", "csrf_token": token, "attachments": (huge, "big.jpg")},
        headers=FRENCH,
    )
    assert response.status_code == 413
    page = page_of(response)
    assert page.lang == "en"
    assert "What you sent is too large" in page.by_id("error-message").text


def test_a_body_too_large_without_a_lang_parameter_follows_the_browser(client, runtime) -> None:  # type: ignore[no-untyped-def]
    too_long = "x" * (runtime.settings.max_field_bytes + 10)
    response = _post_tip(client, "/tip", headers=FRENCH, description=too_long)
    assert response.status_code == 413
    assert page_of(response).lang == "fr"
    assert "trop volumineux" in _html(response)


def test_an_unsupported_file_is_explained_in_french_next_to_the_file_input(client) -> None:  # type: ignore[no-untyped-def]
    program = (io.BytesIO(b"MZ\x90\x00" + b"\x00" * 200), "photo.exe")
    response = _post_tip(client, headers=ENGLISH, attachments=program)
    assert response.status_code == 415
    page = page_of(response)
    message = page.by_id("attachments-error").text
    assert "Ce type de fichier n’est pas accepté." in message and "Types acceptés" in message
    assert "not accepted" not in _html(response)
    assert page.by_id("attachments").get("aria-invalid") == "true"


def test_an_unknown_page_is_not_found_in_french(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/no-such-page", headers=FRENCH)
    assert response.status_code == 404
    page = page_of(response)
    assert page.lang == "fr"
    assert page.find_all("h1")[0].text == "Page introuvable"
    assert "Cette page n’existe pas" in page.by_id("error-message").text
    assert page.find_all("a", href="/tip?lang=fr")


def test_the_wrong_method_is_a_plain_french_page(client) -> None:  # type: ignore[no-untyped-def]
    response = client.put("/tip?lang=fr")
    assert response.status_code == 405
    assert "Cette adresse ne peut pas être utilisée" in _html(response)


def test_the_rate_limit_is_explained_in_french(runtime) -> None:  # type: ignore[no-untyped-def]
    from tipline.app import create_app

    runtime.settings = runtime.settings.with_overrides(tip_rate_limit="1 per hour")
    client = create_app(runtime=runtime).test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.77"
    assert _post_tip(client).status_code == 200
    refused = _post_tip(client, headers=ENGLISH, description="Le deuxième, gardez ce texte.")
    assert refused.status_code == 429
    page = page_of(refused)
    assert page.lang == "fr"
    assert "Veuillez attendre une heure" in page.by_id("form-error").text
    assert "Le deuxième, gardez ce texte." in page.by_id("description").text


# --- the receipt --------------------------------------------------------------------------


def test_the_receipt_is_in_french_with_the_reference_and_passphrase(client) -> None:  # type: ignore[no-untyped-def]
    response = _post_tip(client, headers=ENGLISH)
    assert response.status_code == 200
    page = page_of(response)
    assert page.lang == "fr"
    assert page.find_all("h1")[0].text == "Merci. Votre signalement a bien été reçu."
    assert re.fullmatch(r"[A-Z0-9]{10}", page.by_id("tip-reference").text)
    passphrase = page.by_id("tip-passphrase").text
    assert len(passphrase.split()) == 7
    html = _html(response)
    assert "Notez dès maintenant le numéro de référence et la phrase secrète" in html
    assert "qu’une seule fois" in html
    assert page.find_all("a", href="/followup?lang=fr")
    assert "Write down" not in html


def test_the_english_receipt_explains_the_passphrase(client) -> None:  # type: ignore[no-untyped-def]
    html = _html(submit_tip(client))
    assert "Write down the reference and the passphrase now." in html
    assert "shown only once" in html
    assert 'href="/followup?lang=en"' in html


def test_the_tip_keeps_the_language_of_the_page(client, runtime, recovery_key) -> None:  # type: ignore[no-untyped-def]
    # No lang field at all (an old page): the page's language is what the tipster read.
    response = _post_tip(client, headers=FRENCH, lang="")
    reference = reference_from(_html(response))
    with runtime.sessions() as session:
        tip = session.scalars(select(Tip).where(Tip.reference == reference)).one()
        grant = session.scalars(
            select(TipKeyGrant).where(
                TipKeyGrant.tip_id == tip.id, TipKeyGrant.holder == "recovery"
            )
        ).one()
        body = session.scalars(
            select(SealedItem).where(SealedItem.tip_id == tip.id, SealedItem.kind == "body")
        ).one()
        tip_key = h.open_tip_key(recovery_key, grant.sealed_key, reference, "recovery", 1)
        opened = json.loads(
            h.open_tip_item(tip_key, reference, "body", body.item_key, body.ciphertext)
        )
    assert opened["lang"] == "fr"


# --- messages outside a request, and escaping --------------------------------------------


def test_domain_errors_are_english_outside_a_request() -> None:
    from tipline.errors import InvalidInput
    from tipline.intake.attachments import Upload, clean_uploads

    with pytest.raises(InvalidInput) as caught:
        clean_uploads([Upload("a.jpg", io.BytesIO(b"x"))] * 11, 1024, 4096)
    assert str(caught.value.message) == "Please attach at most 10 files."
    assert str(caught.value) == "Please attach at most 10 files."


def test_lazy_messages_are_escaped_in_pages(app) -> None:  # type: ignore[no-untyped-def]
    from flask import render_template_string

    from tipline.i18n import _l

    message = _l("“%(name)s” is larger than %(mb)s MB.", name="<b>x</b>", mb=1)
    with app.test_request_context("/tip?lang=fr"):
        rendered = render_template_string("{{ m }}", m=message)
    assert rendered == "« &lt;b&gt;x&lt;/b&gt; » dépasse 1 Mo.".replace("« ", "«" + NBSP).replace(
        " »", NBSP + "»"
    )


# --- the catalog --------------------------------------------------------------------------


def _extracted() -> dict[str, str]:
    """Every message marked in code and templates, as `make translations` extracts them."""
    try:
        from babel.messages.frontend import parse_mapping_cfg as parse_mapping
    except ImportError:  # Babel < 2.14
        from babel.messages.frontend import parse_mapping  # type: ignore[attr-defined,no-redef]

    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping(cfg)
    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    skip = {"var", "build", "tests", "bench", "node_modules"}
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT),
        method_map,
        options_map,
        keywords=keywords,
        directory_filter=lambda d: (
            os.path.basename(d) not in skip and not os.path.basename(d).startswith((".", "_"))
        ),
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def _french_catalog():  # type: ignore[no-untyped-def]
    with (CATALOG / "messages.po").open("rb") as po:
        return read_po(po, locale="fr")


def test_every_message_has_a_french_translation() -> None:
    extracted = _extracted()
    assert "Send an anonymous tip" in extracted  # the extraction itself works
    assert "Please choose what the tip is about." in extracted  # _l in Python too
    catalog = _french_catalog()
    missing = []
    for msgid, where in sorted(extracted.items()):
        entry = catalog.get(msgid)
        if entry is None or not entry.string or entry.fuzzy:
            missing.append(f"{where}: {msgid!r}")
    assert not missing, (
        "messages without a (reviewed) French translation; run `make translations`, "
        "translate them in tipline/translations/fr/LC_MESSAGES/messages.po, then "
        "`make translations-compile`:\n" + "\n".join(missing)
    )


def test_placeholders_match_between_english_and_french() -> None:
    placeholder = re.compile(r"%\((\w+)\)[sd]")
    wrong = []
    for entry in _french_catalog():
        if entry.id and entry.string:
            ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
            strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
            expected = sorted(placeholder.findall(ids[0]))
            if any(sorted(placeholder.findall(s)) != expected for s in strings):
                wrong.append(entry.id)
    assert not wrong, wrong


def test_the_compiled_catalog_matches_the_po_file() -> None:
    """The .mo is committed (a fresh clone works with no build step): it must be current."""
    catalog = _french_catalog()
    expected = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    with (CATALOG / "messages.mo").open("rb") as mo:
        compiled = {m.id: m.string for m in read_mo(mo) if m.id}
    assert compiled == expected, "stale messages.mo: run `make translations-compile`"
    # And compiling it ourselves gives a catalog that loads.
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    assert buffer.getvalue()


def test_french_follows_one_typographic_convention() -> None:
    problems = []
    for entry in _french_catalog():
        text = entry.string if isinstance(entry.string, str) else " ".join(entry.string or ())
        if not entry.id or not text:
            continue
        if "pourboire" in text.lower():
            problems.append(("« tip » is « signalement », never « pourboire »", text))
        if "'" in text:
            problems.append(("typographic apostrophe ’", text))
        if re.search(rf"(?<!{NBSP}):", text) or re.search(r"[ \u00a0\u202f][?!;]", text):
            problems.append(("no-break space before ':', none before ; ? !", text))
        if re.search(rf"«(?!{NBSP})|(?<!{NBSP})»", text):
            problems.append(("no-break spaces inside « »", text))
    assert not problems, problems


@pytest.mark.parametrize(
    "query", ["endpoint=x", "_method=PUT", "_anchor=zz", "_external=1", "lang=fr&endpoint=1"]
)
@pytest.mark.parametrize("path", ["/tip", "/followup"])
def test_crafted_query_parameters_do_not_break_the_language_links(client, path, query) -> None:  # type: ignore[no-untyped-def]
    response = client.get(f"{path}?{query}")
    assert response.status_code == 200
    links = re.findall(r'href="([^"]*)"[^>]*hreflang=', response.get_data(as_text=True))
    assert links and all(link.startswith(path + "?") and "#" not in link for link in links)
