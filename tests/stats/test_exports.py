"""Exports over real databases (PostgreSQL in CI, SQLite for the embedded default):
the same cells from both, suppression applied, CSV/JSON/GeoJSON readable, the API and
the CLI with their errors, every export audited."""

from __future__ import annotations

import csv
import io
import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from tests.conftest import settings_env
from tests.support.api import bearer
from tests.test_cli import tipline
from tipline.db import transaction
from tipline.models import AuditEntry, Tip, TipUnit
from tipline.models.unit import Unit

pytestmark = pytest.mark.embedded

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)


def _add_tips(runtime, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    """Tips with only the clear metadata statistics read (nothing to decrypt)."""
    with transaction(runtime.sessions) as session:
        units = dict(session.execute(select(Unit.slug, Unit.id)).all())
        for row in rows:
            unit = row.pop("unit", "on-north-general")
            tip_id = session.execute(
                insert(Tip)
                .values(
                    reference=secrets.token_hex(5).upper(),
                    channel=row.pop("channel", "web"),
                    priority=row.pop("priority", "normal"),
                    status=row.pop("status", "new"),
                    public_key=b"k" * 32,
                    key_version=1,
                    **row,
                )
                .returning(Tip.id)
            ).scalar_one()
            session.execute(
                insert(TipUnit).values(tip_id=tip_id, unit_id=units[unit], role="primary")
            )


def _spread(runtime) -> None:  # type: ignore[no-untyped-def]
    """North drugs: 12 tips in May (6 closed 10 h after receipt); North fraud: 2 and North
    weapons: 6 in May; Montreal drugs: 7 in May; one tip in March (outside the range)."""
    may = datetime(2026, 5, 10, 15, tzinfo=UTC)
    rows = []
    for i in range(12):
        closed = i < 6
        rows.append(
            {
                "zone": "on-north",
                "category": "drugs",
                "received_at": may,
                "triaged_at": may + timedelta(hours=2 + i),
                "status": "closed" if closed else "in_review",
                "disposition": "arrest" if closed else None,
                "closed_at": may + timedelta(hours=10) if closed else None,
            }
        )
    rows += [{"zone": "on-north", "category": "fraud-scams", "received_at": may} for _ in range(2)]
    rows += [{"zone": "on-north", "category": "weapons", "received_at": may} for _ in range(6)]
    rows += [
        {
            "zone": "qc-montreal",
            "category": "drugs",
            "received_at": may,
            "unit": "qc-montreal-general",
        }
        for _ in range(7)
    ]
    rows.append(
        {"zone": "on-north", "category": "drugs", "received_at": datetime(2026, 3, 2, tzinfo=UTC)}
    )
    _add_tips(runtime, rows)


def _api_stats(app, world, query: str, who: str = "chief"):  # type: ignore[no-untyped-def]
    api = app.test_client()
    return api.get(f"/api/v1/stats?{query}", headers=bearer(api, world[who]))


def test_counts_suppression_and_times_in_json(app, runtime, world) -> None:  # type: ignore[no-untyped-def]
    _spread(runtime)
    response = _api_stats(app, world, "by=zone,category&period=month&from=2026-04-01&to=2026-05-31")
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()
    cells = {(c["zone"], c["category"]): c for c in data["cells"]}
    assert cells[("on-north", "drugs")]["count"] == 12
    assert cells[("on-north", "drugs")]["triage_median_h"] == 7.5
    assert cells[("on-north", "drugs")]["close_median_h"] == 10.0
    assert cells[("qc-montreal", "drugs")]["count"] == 7
    fraud = cells[("on-north", "fraud-scams")]
    assert fraud["withheld"] and fraud["count"] is None and fraud["triage_median_h"] is None
    # Alone in its row, the 2 could be recovered from the on-north total: the smallest
    # other cell of the row is withheld with it.
    assert cells[("on-north", "weapons")]["withheld"]
    totals = {(t["zone"], t["category"]): t for t in data["totals"]}
    assert totals[("on-north", "*")]["count"] == 20
    assert totals[("*", "fraud-scams")]["withheld"]  # it would be the 2 itself
    assert data["method"]["k"] == 5 and "complementary" in data["method"]["suppression"]
    assert data["method"]["time_zone"] == "America/Toronto"
    with runtime.sessions() as session:
        audited = session.scalars(
            select(AuditEntry.subject).where(AuditEntry.action == "stats.export")
        ).all()
    assert audited == ["zone,category month 2026-04-01..2026-06-01 json"]


def test_months_are_counted_in_the_services_time_zone(app, runtime, world) -> None:  # type: ignore[no-untyped-def]
    # 03:00 UTC on March 1st is still February 28th in Toronto.
    _add_tips(
        runtime,
        [
            {
                "zone": "on-north",
                "category": "drugs",
                "received_at": datetime(2026, 3, 1, 3, tzinfo=UTC),
            }
            for _ in range(6)
        ],
    )
    data = _api_stats(app, world, "by=period&period=month&from=2026-02-01&to=2026-03-31").get_json()
    assert [(c["period"], c["count"]) for c in data["cells"]] == [("2026-02-01", 6)]


def test_csv_opens_in_a_spreadsheet(app, runtime, world) -> None:  # type: ignore[no-untyped-def]
    _spread(runtime)
    response = _api_stats(
        app, world, "by=category,status&period=month&from=2026-05-01&to=2026-05-31&format=csv"
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment")
    text = response.data.decode("utf-8-sig")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    assert list(rows[0])[:3] == ["category", "status", "count"]
    drugs = [r for r in rows if r["category"] == "drugs" and r["status"] == "closed"]
    assert drugs and drugs[0]["count"] == "6"
    assert any(r["category"] == "*" for r in rows)  # the totals
    assert "# suppression:" in text


def test_geojson_has_every_zone_with_its_count(app, runtime, world) -> None:  # type: ignore[no-untyped-def]
    _spread(runtime)
    response = _api_stats(
        app, world, "by=zone&period=month&from=2026-05-01&to=2026-05-31&format=geojson"
    )
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    collection = json.loads(response.data)
    features = {f["properties"]["id"]: f for f in collection["features"]}
    assert set(features) == set(runtime.config.zones)
    assert features["on-north"]["properties"]["count"] == 20
    assert features["qc-laval"]["properties"]["count"] == 0
    assert features["on-north"]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_an_empty_result_is_a_valid_empty_export(app, world) -> None:  # type: ignore[no-untyped-def]
    data = _api_stats(app, world, "by=zone&period=week&from=2020-01-01&to=2020-02-01").get_json()
    assert data["cells"] == [] and data["totals"] == []


@pytest.mark.parametrize(
    "query",
    [
        "by=zone,colour",
        "by=zone,zone",
        "by=zone,province",
        "by=zone&period=fortnight",
        "by=zone&format=xlsx",
        "by=category&format=geojson",
        "by=zone&from=2026-05-01&to=2026-04-01",
        "by=zone&from=yesterday",
        "by=zone&period=day&from=2020-01-01&to=2026-01-01",
        "by=zone&period=month&from=0001-01-01&to=2026-01-01",
    ],
)
def test_bad_requests_are_400_with_the_error_shape(app, world, query: str) -> None:  # type: ignore[no-untyped-def]
    response = _api_stats(app, world, query)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "invalid_input"


def test_only_supervisors_and_admins_export_and_supervisors_see_their_units(
    app, runtime, world, admin_account, make_account
) -> None:  # type: ignore[no-untyped-def]
    _spread(runtime)
    assert _api_stats(app, world, "by=zone", who="north").status_code == 403
    query = "by=zone&period=month&from=2026-05-01&to=2026-05-31"
    everyone = _api_stats(app, {"admin": admin_account}, query, who="admin").get_json()
    assert {c["zone"] for c in everyone["cells"]} == {"on-north", "qc-montreal"}
    montreal_chief = make_account("mtl-chief@example.test", "supervisor", ("qc-montreal-general",))
    theirs = _api_stats(app, {"mtl": montreal_chief}, query, who="mtl").get_json()
    assert {c["zone"] for c in theirs["cells"]} == {"qc-montreal"}


def test_the_cli_exports_and_refuses_bad_options_with_exit_code_2(
    settings, runtime, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    _spread(runtime)
    out = tmp_path / "stats.csv"
    done = tipline(
        settings_env(settings), "stats", "export", "--by", "zone,category", "--period", "month",
        "--from", "2026-05-01", "--to", "2026-05-31", "--format", "csv", "-o", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8-sig").startswith("zone,category,count")
    to_stdout = tipline(
        settings_env(settings),
        "stats",
        "export",
        "--by",
        "zone",
        "--format",
        "json",
        "--from",
        "2026-05-01",
        "--to",
        "2026-05-31",
    )
    assert to_stdout.returncode == 0 and json.loads(to_stdout.stdout)["cells"]
    for bad in (
        ["--by", "colour"],
        ["--period", "fortnight"],
        ["--format", "pdf"],
        ["--from", "2026-05-01", "--to", "2026-01-01"],
    ):
        result = tipline(settings_env(settings), "stats", "export", *bad)
        assert result.returncode == 2, (bad, result.stderr)
        assert "Traceback" not in result.stderr
