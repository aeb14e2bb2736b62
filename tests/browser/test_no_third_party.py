"""Every page, opened in Debian's Chromium, asks nothing of any other origin and breaks
nothing under its own Content-Security-Policy.

The pages are the URL map's (tests/test_headers.py walks the same list), in both
languages, the staff pages after a real sign-in, and a tip page. Every request of the
browser context is recorded (pages, subresources, prefetches, workers); the console is
read for CSP refusals, which would mean a page is broken by its own policy.
"""

from __future__ import annotations

import pytest

from tests.support.api import routed_tip
from tests.test_headers import _pages

pytestmark = pytest.mark.embedded


def test_no_page_requests_another_origin_or_trips_its_own_policy(  # type: ignore[no-untyped-def]
    app, runtime, browser, server, drain, world
) -> None:
    runtime.settings = runtime.settings.with_overrides(public_stats=True)
    reference = routed_tip(app.test_client(), drain)
    context = browser.new_context()
    requests: list[str] = []
    refusals: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    try:
        page = context.new_page()
        page.on(
            "console",
            lambda m: refusals.append(m.text) if "Content Security Policy" in m.text else None,
        )
        public = _pages(app, ("/",), ("/staff",))
        for path in public:
            for lang in ("en", "fr"):
                page.goto(f"{server}{path}?lang={lang}")
        chief = world["chief"]
        page.goto(f"{server}/staff/login")
        page.fill("#email", chief.email)
        page.fill("#password", chief.password)
        page.fill("#totp", chief.code())
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/staff/")
        # The export is a file download, not a page (its headers: tests/test_headers.py).
        downloads = {"/staff/login", "/staff/stats/export"}
        staff = [p for p in _pages(app, ("/staff/",)) if p not in downloads]
        for path in [*staff, f"/staff/tips/{reference}"]:
            page.goto(f"{server}{path}")
    finally:
        context.close()
    visited = {url.split("?")[0] for url in requests}
    assert {f"{server}{p}" for p in public} <= visited  # the walk really happened
    assert len(staff) >= 5
    foreign = [url for url in requests if not url.startswith(server + "/")]
    assert not foreign, f"requests to other origins: {foreign[:10]}"
    assert not refusals, f"pages broken by their own policy: {refusals[:5]}"
