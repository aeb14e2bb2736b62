"""The statistics dashboard: drawn from the months' releases, for supervisors and
admins, audited, readable in English and French."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.stats.support import add_tips
from tests.support.forms import sign_in
from tipline.models import AuditEntry

pytestmark = pytest.mark.embedded


def _may(runtime) -> None:  # type: ignore[no-untyped-def]
    may = datetime(2026, 5, 10, 15, tzinfo=UTC)
    add_tips(
        runtime, [{"zone": "on-north", "category": "drugs", "received_at": may} for _ in range(9)]
    )
    add_tips(
        runtime, [{"zone": "on-central", "category": "drugs", "received_at": may} for _ in range(7)]
    )
    add_tips(
        runtime,
        [
            {
                "zone": "qc-montreal",
                "category": "drugs",
                "received_at": may,
                "unit": "qc-montreal-general",
            }
            for _ in range(2)
        ],
    )


def test_a_supervisor_sees_charts_and_a_map_with_small_counts_withheld(app, runtime, world) -> None:  # type: ignore[no-untyped-def]
    _may(runtime)
    chief = app.test_client()
    sign_in(chief, world["chief"])
    page = chief.get("/staff/stats?from=2026-05&to=2026-05")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("<svg") == 10  # each chart wide and narrow
    assert "North District: 9" in html  # the map's label for a published zone
    assert "Montréal: withheld" in html and "Montréal: 2" not in html
    assert "Central District: withheld" in html  # its complement: the smallest other zone
    # One hatch pattern per chart, each with its own id: no id twice on the page.
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert "<script" not in html and "http" not in html.split("<svg", 1)[1].replace(
        "http://www.w3.org/2000/svg", ""
    )
    download = chief.get("/staff/stats/export?by=zone&format=csv&from=2026-05&to=2026-05")
    assert download.status_code == 200 and "on-north" in download.data.decode("utf-8-sig")
    with runtime.sessions() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.like("stats.%"))
        ).all()
    assert sorted(actions) == ["stats.dashboard", "stats.export"]


def test_investigators_get_no_statistics_and_bad_months_are_explained(app, world) -> None:  # type: ignore[no-untyped-def]
    north = app.test_client()
    sign_in(north, world["north"])
    assert north.get("/staff/stats").status_code == 403
    chief = app.test_client()
    sign_in(chief, world["chief"])
    # No tips yet (a fresh demo): the page says when this month's tips will be counted.
    empty = chief.get("/staff/stats").get_data(as_text=True)
    assert 'id="stats-empty"' in empty and "counted from" in empty
    bad = chief.get("/staff/stats?from=2026-05&to=2026-01")
    assert bad.status_code == 400 and "inverted" in bad.get_data(as_text=True)
    future = chief.get("/staff/stats?from=2026-05&to=2099-01")
    assert future.status_code == 400 and "whole months" in future.get_data(as_text=True)
    assert chief.get("/staff/stats?grid=fortnight").status_code == 400


def test_the_dashboard_speaks_french_for_a_french_board(app, runtime, world) -> None:  # type: ignore[no-untyped-def]
    _may(runtime)
    chief = app.test_client()
    sign_in(chief, world["chief"])
    html = chief.get("/staff/stats?lang=fr&from=2026-05&to=2026-05").get_data(as_text=True)
    assert 'lang="fr"' in html and "Signalements par catégorie, par mois" in html
    assert "Carte des signalements par secteur" in html  # inside the SVG too
    assert "mai 2026" in html  # months in French, in the selects too
    assert "masqué" in html and not re.search(r"(>|: )withheld", html)
    assert "File d’attente" in html  # the link back to the queue
    english = chief.get("/staff/stats?from=2026-05&to=2026-05", headers={"Accept-Language": "en"})
    assert "Tips by category, by month" in english.get_data(as_text=True)
    assert "Queue" in chief.get("/staff/?lang=fr").get_data(as_text=True)  # the rest stays English
