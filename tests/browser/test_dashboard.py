"""The statistics dashboard in Chromium, in English and French, on a desktop and on a
375 px phone: it renders from the months' releases, no label overlaps another or runs
off its chart, nothing scrolls sideways, it prints, and it asks nothing of a third
party. Screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from tests.browser.conftest import shot
from tests.stats.support import add_tips
from tipline.stats.scheduling import release_ended_months

pytestmark = pytest.mark.embedded

ZONES = {
    "on-central": 25,
    "qc-montreal": 22,
    "on-east": 17,
    "on-north": 12,
    "qc-quebec-city": 12,
    "qc-laval": 8,
}
CATEGORIES = {
    "drugs": 20,
    "property-crime": 18,
    "suspicious-activity": 15,
    "fraud-scams": 12,
    "violent-crime": 8,
    "weapons": 6,
    "organized-crime": 3,
    "human-trafficking": 1,
}


def _months_of_tips(runtime) -> None:  # type: ignore[no-untyped-def]
    """About 300 tips a month for three months, skewed like a real program's, and the
    months released as the scheduler would have (a release takes seconds at this size)."""
    rng = random.Random(7)
    start = datetime(2026, 3, 1, 15, tzinfo=UTC)
    rows = []
    for day in range(92):
        for _ in range(rng.randint(6, 14)):
            status = rng.choice(["new", "in_review", "closed", "closed"])
            received = start + timedelta(days=day)
            rows.append(
                {
                    "zone": rng.choices(list(ZONES), list(ZONES.values()))[0],
                    "category": rng.choices(list(CATEGORIES), list(CATEGORIES.values()))[0],
                    "received_at": received,
                    "channel": rng.choice(["web", "web", "sms"]),
                    "status": status,
                    "triaged_at": received + timedelta(hours=rng.randint(1, 30))
                    if status != "new"
                    else None,
                    "disposition": rng.choice(["arrest", "unfounded", "information_passed"])
                    if status == "closed"
                    else None,
                    "closed_at": received + timedelta(hours=rng.randint(30, 300))
                    if status == "closed"
                    else None,
                }
            )
    add_tips(runtime, rows)
    release_ended_months(runtime, datetime(2026, 6, 2, tzinfo=UTC), 3)


OVERLAPS = """() => {
  const problems = [];
  for (const svg of document.querySelectorAll('.chart svg')) {
    const box = svg.getBoundingClientRect();
    const texts = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]);
    for (const [label, r] of texts) {
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)
        problems.push('outside its chart: ' + label);
    }
    for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
      const [a, p] = texts[i], [b, q] = texts[j];
      if (p.left < q.right - 1 && q.left < p.right - 1 && p.top < q.bottom - 1 && q.top < p.bottom - 1)
        problems.push('overlap: ' + a + ' / ' + b);
    }
  }
  return problems;
}"""


def test_the_dashboard_reads_well_in_chromium(browser, server, runtime, make_account) -> None:  # type: ignore[no-untyped-def]
    _months_of_tips(runtime)
    for lang in ("en", "fr"):
        _look(
            browser, server, runtime, make_account(f"board-{lang}@example.test", "supervisor"), lang
        )


def _look(browser, server, runtime, board, lang: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=f"{lang}-CA")
    requests: list[str] = []
    try:
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{server}/staff/login")
        page.fill("#email", board.email)
        page.fill("#password", board.password)
        page.fill("#totp", board.code())
        page.click("button[type=submit]")
        for grid in ("month", "week", "day"):
            page.goto(f"{server}/staff/stats?lang={lang}&from=2026-03&to=2026-05&grid={grid}")
            assert page.locator(".chart .wide svg").count() == 5
            assert page.locator("#chart-map .wide svg path").count() == len(runtime.config.zones)
            assert page.evaluate(OVERLAPS) == []
            shot(page, f"stats-dashboard-{lang}" + ("" if grid == "month" else f"-{grid}"))
        page.set_viewport_size({"width": 375, "height": 800})
        page.goto(f"{server}/staff/stats?lang={lang}&from=2026-03&to=2026-05")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert page.evaluate(OVERLAPS) == []
        shot(page, f"stats-dashboard-{lang}-375")
        page.emulate_media(media="print")
        assert not page.locator("#stats-filter").is_visible()
        assert page.locator("#chart-time svg >> visible=true").count() == 1
        assert all(url.startswith(server) for url in requests), requests
    finally:
        context.close()
