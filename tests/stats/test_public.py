"""The public transparency page: off by default; when on, EN/FR, cut from the same
monthly releases as every staff export, withheld where they withhold, always rounded."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.stats.support import add_tips
from tipline.models.base import utcnow
from tipline.stats.scheduling import release_ended_months

pytestmark = pytest.mark.embedded


def test_off_unless_the_deployment_turns_it_on(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/transparency").status_code == 404


def test_monthly_counts_rounded_and_small_ones_hidden_in_english_and_french(app, runtime) -> None:  # type: ignore[no-untyped-def]
    runtime.settings = runtime.settings.with_overrides(public_stats=True)
    last_month = utcnow().replace(day=1) - timedelta(days=10)
    for zone, unit, category, n in (
        ("on-north", "on-north-general", "drugs", 23),
        ("on-north", "on-north-general", "weapons", 9),
        ("on-north", "on-north-general", "fraud-scams", 12),
        ("qc-laval", "qc-laval-general", "drugs", 2),
        ("qc-laval", "qc-laval-general", "weapons", 11),
        ("qc-laval", "qc-laval-general", "fraud-scams", 14),
    ):
        row = {"zone": zone, "category": category, "received_at": last_month, "unit": unit}
        add_tips(runtime, [dict(row) for _ in range(n)])
    client = app.test_client()
    # A visitor never sets off the work of a release: the page waits for the scheduler.
    before = client.get("/transparency?lang=en").get_data(as_text=True)
    assert "No tips yet." in before
    release_ended_months(runtime, utcnow(), 12)
    html = client.get("/transparency?lang=en").get_data(as_text=True)
    assert "Tips received each month" in html and "How tips are protected" in html
    months = html.split('id="public-months"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<th scope="row">([0-9-]+)</th>(.*?)</tr>', months)
    assert len(rows) == 12  # the last twelve whole months, released
    month = f"{last_month:%Y-%m}"
    that = dict(rows)[month]
    numbers = [int(n) for n in re.findall(r"<td>(\d+)</td>", that)]
    assert len(numbers) == 2 and all(n % 5 == 0 for n in numbers)  # 44 and 27, rounded
    assert abs(numbers[0] - 44) < 5 and abs(numbers[1] - 27) < 5
    categories = html.split('id="public-categories"', 1)[1].split("</table>", 1)[0]
    assert "–" in categories  # Quebec's 2 drug tips are not shown
    assert "<td>2</td>" not in categories
    french = client.get("/transparency?lang=fr").get_data(as_text=True)
    assert "Signalements reçus chaque mois" in french and 'lang="fr"' in french
