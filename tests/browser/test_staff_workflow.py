"""A supervisor's day in Debian's Chromium: sign in with a TOTP code, find a new tip
with the queue's filters, claim it, tag it, note it, ask the tipster, read the answer
(flagged in the queue), mark it actioned and close it with a disposition. Screenshots
go to ``test-artifacts/browser/``."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import shot

pytestmark = pytest.mark.embedded


def test_a_supervisor_works_a_tip_from_the_queue_to_closed(browser, server, drain, world) -> None:  # type: ignore[no-untyped-def]
    text = "Staff browser test: a white van collects parcels behind the arena every night."
    tipster_context = browser.new_context()
    staff_context = browser.new_context()
    requests: list[str] = []
    try:
        tipster = tipster_context.new_page()
        tipster.goto(f"{server}/tip")
        tipster.select_option("#category", "drugs")
        tipster.select_option("#zone", "on-north")
        tipster.fill("#description", text)
        tipster.click("button[type=submit]:has-text('Send tip')")
        reference = tipster.text_content("#tip-reference") or ""
        passphrase = tipster.text_content("#tip-passphrase") or ""
        assert re.fullmatch(r"[A-Z0-9]{10}", reference)
        drain()

        staff = staff_context.new_page()
        staff.on("request", lambda r: requests.append(r.url))
        chief = world["chief"]
        staff.goto(f"{server}/staff/login")
        staff.fill("#email", chief.email)
        staff.fill("#password", chief.password)
        staff.fill("#totp", "000000")  # a wrong code first: refused, nothing else said
        staff.click("button[type=submit]")
        assert "not right" in (staff.text_content("#login-error") or "")
        staff.fill("#email", chief.email)
        staff.fill("#password", chief.password)
        staff.fill("#totp", chief.code())
        staff.click("button[type=submit]")

        staff.select_option("#f-status", "new")
        staff.select_option("#f-unit", "on-north-general")
        staff.click("#queue-filter button[type=submit]")
        assert reference in (staff.text_content("#queue") or "")
        shot(staff, "staff-1-queue-filtered")
        staff.click(f"text={reference}")
        assert staff.text_content("#tip-description") == text

        staff.click("#claim")
        assert chief.email in (staff.text_content("#tip-assignee") or "")
        assert "in review" in (staff.text_content("#tip-status") or "")
        staff.fill("#tags", "vehicle, night")
        staff.click("button:has-text('Save tags')")
        assert staff.text_content("#tip-tags") == "night, vehicle"
        staff.fill("#note", "Patrol saw the van on Tuesday.")
        staff.click("button:has-text('Add note')")
        assert "Patrol saw the van" in (staff.text_content("#tip-notes") or "")
        staff.fill("#message", "Which night of the week is it busiest?")
        staff.click("button:has-text('Send to tipster')")

        tipster.goto(f"{server}/followup")
        tipster.fill("#reference", reference)
        tipster.fill("#passphrase", passphrase)
        tipster.click("form button[type=submit]:not(:has-text('Sign out'))")
        assert "busiest" in (tipster.text_content("#messages") or "")
        tipster.fill("#message", "Fridays, after 11 pm.")
        tipster.click("#reply-form button[type=submit]")

        staff.goto(f"{server}/staff/")
        row = staff.locator("#queue tr", has_text=reference)
        assert "tipster replied" in (row.text_content() or "")
        staff.click(f"text={reference}")
        assert "Fridays, after 11 pm." in (staff.text_content("#tip-messages") or "")
        staff.click("#status-actioned")
        assert "actioned" in (staff.text_content("#tip-status") or "")
        staff.select_option("#disposition", "charges_laid")
        staff.click("#close")
        assert "closed — charges laid" in (staff.text_content("#tip-status") or "")
        shot(staff, "staff-2-tip-closed")
        staff.click("#reopen")  # a supervisor may reopen
        assert "in review" in (staff.text_content("#tip-status") or "")
        assert all(url.startswith(server) for url in requests), requests  # nothing third-party
    finally:
        tipster_context.close()
        staff_context.close()
