"""The whole web tipster journey in Debian's Chromium, JavaScript on and off, EN and FR:
send a tip with a photo, read the receipt, sign in to the follow-up, read an
investigator's question, answer it. Screenshots of the key pages are saved under
``test-artifacts/browser/`` (or $TIPLINE_TEST_ARTIFACTS)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import shot as _shot
from tests.intake.scrub.samples import assert_clean, tagged_jpeg

pytestmark = pytest.mark.embedded


# What each language must show: a test that passes in English only would not catch a page
# left untranslated.
WORDS = {
    "en": {"submit": "Send tip", "followup": "Follow up on your tip", "sent": "was sent"},
    "fr": {"submit": "Envoyer", "followup": "Suivre votre signalement", "sent": "a été envoyé"},
}


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_tipster_sends_a_photo_then_answers_an_investigator(
    browser, server, drain, world, runtime, tmp_path, lang: str, javascript: bool
) -> None:  # type: ignore[no-untyped-def]
    label = f"{lang}-{'js-on' if javascript else 'js-off'}"
    words = WORDS[lang]
    photo = tagged_jpeg(tmp_path)
    text = f"Browser test ({label}): a grey pickup unloads crates at the old mill on Tuesdays."
    question = f"Question ({label}): what colour are the crates?"
    answer = f"Answer ({label}): green, with a red stripe."

    tipster_context = browser.new_context(
        java_script_enabled=javascript,
        locale="en-CA",  # the language comes from the choice
    )
    staff_context = browser.new_context()
    requests: list[str] = []
    try:
        tipster = tipster_context.new_page()
        tipster.on("request", lambda r: requests.append(r.url))
        tipster.goto(f"{server}/tip")
        if lang == "fr":
            tipster.click("a[hreflang=fr]")  # a plain link: works without JavaScript
        assert tipster.get_attribute("html", "lang") == lang
        tipster.select_option("#category", "organized-crime")
        tipster.select_option("#zone", "on-north")
        tipster.fill("#description", text)
        tipster.set_input_files("#attachments", str(photo))
        if javascript:  # pow.js solves the optional proof of work while the tipster writes
            # expect() polls from Playwright's own script: a string predicate would be
            # eval'd in the page, which the page's CSP (rightly) forbids.
            expect(tipster.locator("input[name=pow_nonce]")).not_to_have_value("", timeout=20_000)
        else:  # without JavaScript nothing is asked, and the tip goes through all the same
            assert tipster.input_value("input[name=pow_nonce]") == ""
        _shot(tipster, f"{label}-1-form")
        tipster.click(f"button[type=submit]:has-text('{words['submit']}')")

        reference = tipster.text_content("#tip-reference") or ""
        passphrase = tipster.text_content("#tip-passphrase") or ""
        assert re.fullmatch(r"[A-Z0-9]{10}", reference), reference
        assert len(passphrase.split()) == 7
        assert tipster.get_attribute("html", "lang") == lang
        _shot(tipster, f"{label}-2-receipt")
        # With JavaScript the solved work was accepted (and spent); without, none was sent.
        spent = list(runtime.redis.scan_iter(match=f"{runtime.settings.redis_prefix}:pow-spent:*"))
        assert len(spent) == (1 if javascript else 0)
        drain()  # the worker routes the tip to its unit queue

        # An investigator reads the tip, checks the photo, and asks a question.
        staff = staff_context.new_page()
        staff.goto(f"{server}/staff/login")
        staff.fill("#email", world["all"].email)
        staff.fill("#password", world["all"].password)
        staff.fill("#totp", world["all"].code())
        staff.click("button[type=submit]")
        staff.click(f"text={reference}")
        assert staff.text_content("#tip-description") == text
        with staff.expect_download() as download:
            staff.click("#tip-attachments a")
        stored = tmp_path / "downloaded.jpg"
        stored.write_bytes(Path(download.value.path()).read_bytes())
        assert_clean(stored)  # exiftool finds no GPS, serial, author or XMP
        staff.fill("#message", question)
        staff.click("button:has-text('Send to tipster')")
        assert question in (staff.text_content("#tip-messages") or "")

        # The tipster comes back, signs in and answers.
        tipster.click(f"text={words['followup']}")
        assert tipster.get_attribute("html", "lang") == lang
        tipster.fill("#reference", reference.lower())
        tipster.fill("#passphrase", passphrase)
        _shot(tipster, f"{label}-3-followup-sign-in")
        tipster.click("form button[type=submit]:not(:has-text('Sign out'))")
        assert question in (tipster.text_content("#messages") or "")
        tipster.fill("#message", answer)
        tipster.locator("#message").press("Tab")  # keyboard reaches the next control
        tipster.click("#reply-form button[type=submit]")
        assert words["sent"] in (tipster.text_content("#reply-sent") or "")
        assert answer in (tipster.text_content("#messages") or "")
        assert tipster.get_attribute("html", "lang") == lang
        _shot(tipster, f"{label}-4-followup-thread")

        staff.reload()
        assert answer in (staff.text_content("#tip-messages") or "")
        _shot(staff, f"{label}-5-staff-tip")
        assert all(url.startswith(server) for url in requests), requests  # nothing third-party
    finally:
        tipster_context.close()
        staff_context.close()
