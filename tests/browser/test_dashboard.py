"""The statistics dashboard in Chromium: it renders, prints, and asks nothing of a third
party. A screenshot goes to test-artifacts/browser/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.browser.conftest import shot
from tests.stats.test_exports import _add_tips

pytestmark = pytest.mark.embedded


def test_the_dashboard_renders_in_chromium(browser, server, runtime, world) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 1, 5, 15, tzinfo=UTC)
    rows = []
    for week in range(20):
        for zone, category, n in (
            ("on-north", "drugs", 6),
            ("on-central", "fraud-scams", 5),
            ("on-east", "weapons", 1 + week % 7),
        ):
            rows += [
                {"zone": zone, "category": category, "received_at": start + timedelta(weeks=week)}
                for _ in range(n)
            ]
    _add_tips(runtime, rows)
    context = browser.new_context()
    requests: list[str] = []
    try:
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        chief = world["chief"]
        page.goto(f"{server}/staff/login")
        page.fill("#email", chief.email)
        page.fill("#password", chief.password)
        page.fill("#totp", chief.code())
        page.click("button[type=submit]")
        page.goto(f"{server}/staff/stats?period=month&from=2026-01-01&to=2026-05-31")
        assert page.locator("svg").count() == 5
        assert page.locator("#chart-map svg path").count() == len(runtime.config.zones)
        shot(page, "stats-dashboard")
        page.emulate_media(media="print")
        assert not page.locator("#stats-filter").is_visible()
        assert page.locator("#chart-time svg").is_visible()
        assert all(url.startswith(server) for url in requests), requests
    finally:
        context.close()
