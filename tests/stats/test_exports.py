"""Exports over real databases (PostgreSQL in CI, SQLite for the embedded default): cut
from the months' releases, suppression applied, CSV/JSON/GeoJSON readable, the API and
the CLI with their errors, every export audited."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import settings_env
from tests.stats.support import add_tips
from tests.support.api import bearer
from tests.test_cli import tipline
from tipline.models import AuditEntry, StatsRelease, StatsReleaseTable

pytestmark = pytest.mark.embedded

MAY = datetime(2026, 5, 10, 15, tzinfo=UTC)


def _spread(runtime) -> None:  # type: ignore[no-untyped-def]
    """North drugs: 12 tips in May (6 closed 10 h after receipt); North fraud: 2 and North
    weapons: 6 in May; Montreal drugs: 7 in May; one tip in March (outside the range)."""
    rows = []
    for i in range(12):
        closed = i < 6
        rows.append(
            {
                "zone": "on-north",
                "category": "drugs",
                "received_at": MAY,
                "triaged_at": MAY + timedelta(hours=2 + i),
                "status": "closed" if closed else "in_review",
                "disposition": "arrest" if closed else None,
                "closed_at": MAY + timedelta(hours=10) if closed else None,
            }
        )
    rows += [{"zone": "on-north", "category": "fraud-scams", "received_at": MAY} for _ in range(2)]
    rows += [{"zone": "on-north", "category": "weapons", "received_at": MAY} for _ in range(6)]
    rows += [
        {
            "zone": "qc-montreal",
            "category": "drugs",
            "received_at": MAY,
            "unit": "qc-montreal-general",
        }
        for _ in range(7)
    ]
    rows.append(
        {"zone": "on-north", "category": "drugs", "received_at": datetime(2026, 3, 2, tzinfo=UTC)}
    )
    add_tips(runtime, rows)


def _api_stats(app, world, query: str, who: str = "chief"):  # type: ignore[no-untyped-def]
    api = app.test_client()
    return api.get(f"/api/v1/stats?{query}", headers=bearer(api, world[who]))


def test_counts_withheld_cells_and_times_in_json(app, runtime, world) -> None:  # type: ignore[no-untyped-def]
    _spread(runtime)
    api = app.test_client()
    headers = bearer(api, world["chief"])
    response = api.get(
        "/api/v1/stats?by=zone,category&period=month&from=2026-04-01&to=2026-05-31",
        headers=headers,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()
    cells = {(c["zone"], c["category"]): c for c in data["cells"]}
    assert set(cells) == {
        ("on-north", "drugs"),
        ("on-north", "fraud-scams"),
        ("on-north", "weapons"),
        ("qc-montreal", "drugs"),
    }
    fraud = cells[("on-north", "fraud-scams")]
    assert fraud["withheld"] and fraud["count"] is None and fraud["triage_median_h"] is None
    drugs = cells[("on-north", "drugs")]
    assert drugs["count"] == 12 and drugs["triage_median_h"] is None  # two months: no times
    may = api.get(
        "/api/v1/stats?by=zone,category&period=month&from=2026-05-01&to=2026-05-31",
        headers=headers,
    )
    one = {(c["zone"], c["category"]): c for c in may.get_json()["cells"]}
    # One month: its times come with it (12 triaged, 6 closed: k or more each).
    assert one[("on-north", "drugs")]["triage_median_h"] == 7.5
    assert one[("on-north", "drugs")]["close_median_h"] == 10.0
    assert one[("qc-montreal", "drugs")]["triage_median_h"] is None  # none triaged
    totals = {(t["zone"], t["category"]): t for t in data["totals"]}
    assert totals[("*", "fraud-scams")]["withheld"]  # it would be the 2 itself
    # Nothing published lets the 2 be worked out: the North row adds up to nothing.
    north = totals[("on-north", "*")]
    shown = [c["count"] for (z, _), c in cells.items() if z == "on-north" and not c["withheld"]]
    if not north["withheld"]:
        assert north["count"] - sum(shown) >= 4  # the withheld ones share at least k − 1
    method = data["method"]
    assert method["k"] == 5 and "cannot prove" in method["rule"]
    assert method["time_zone"] == "America/Toronto" and method["to"] == "2026-05-31"
    assert set(method["released"]) == {"2026-04", "2026-05"}
    with runtime.sessions() as session:
        audited = session.scalars(
            select(AuditEntry.subject).where(AuditEntry.action == "stats.export")
        ).all()
    assert audited == [
        "zone,category month 2026-04-01..2026-06-01 json",
        "zone,category month 2026-05-01..2026-06-01 json",
    ]


def test_a_month_is_released_once_and_every_later_answer_is_cut_from_it(
    app, runtime, world
) -> None:  # type: ignore[no-untyped-def]
    _spread(runtime)
    api = app.test_client()
    headers = bearer(api, world["chief"])
    query = "/api/v1/stats?by=zone,category&period=month&from=2026-05-01&to=2026-05-31"
    first = api.get(query, headers=headers).get_json()
    # More tips for May arrive late (or a status changes): May's release stays as made.
    add_tips(runtime, [{"zone": "qc-laval", "category": "drugs", "received_at": MAY}] * 9)
    again = api.get(query, headers=headers).get_json()
    assert again["cells"] == first["cells"] and again["totals"] == first["totals"]
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(StatsRelease)) == 1
        # The ledger holds numbers and keys only: no tip id, no reference, no text.
        payloads = session.scalars(select(StatsReleaseTable.cells)).all()
    assert payloads and all(json.loads(p) for p in payloads)


def test_months_are_counted_in_the_services_time_zone(app, runtime, world) -> None:  # type: ignore[no-untyped-def]
    # 03:00 UTC on March 1st is still February 28th in Toronto.
    add_tips(
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


def test_a_week_across_two_months_adds_its_two_parts(app, runtime, world) -> None:  # type: ignore[no-untyped-def]
    # The week of Monday 27 April 2026 ends on Sunday 3 May.
    april = datetime(2026, 4, 28, 15, tzinfo=UTC)
    may = datetime(2026, 5, 2, 15, tzinfo=UTC)
    add_tips(runtime, [{"zone": "on-north", "category": "drugs", "received_at": april}] * 8)
    add_tips(runtime, [{"zone": "on-north", "category": "drugs", "received_at": may}] * 7)
    data = _api_stats(app, world, "by=period&period=week&from=2026-04-27&to=2026-05-03").get_json()
    assert [(c["period"], c["count"]) for c in data["cells"]] == [("2026-04-27", 15)]
    assert data["method"]["window"].startswith("whole weeks")


def test_csv_opens_in_a_spreadsheet(app, runtime, world) -> None:  # type: ignore[no-untyped-def]
    _spread(runtime)
    response = _api_stats(
        app, world, "by=status,disposition&period=month&from=2026-05-01&to=2026-05-31&format=csv"
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment")
    text = response.data.decode("utf-8-sig")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    assert list(rows[0])[:3] == ["status", "disposition", "count"]
    closed = [r for r in rows if r["status"] == "closed" and r["disposition"] == "arrest"]
    assert closed and closed[0]["count"] == "6"
    assert any(r["status"] == "*" for r in rows)  # the totals
    assert "# rule:" in text


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
    data = _api_stats(app, world, "by=zone&period=month&from=2020-01-01&to=2020-02-29").get_json()
    assert data["cells"] == [] and data["totals"] == []


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("by=zone,colour", "unknown grouping colour"),
        ("by=zone,zone", "each grouping once"),
        ("by=zone,province", "not published"),
        ("by=zone,channel", "not published"),
        ("by=zone,category,disposition", "not published"),
        ("by=zone&period=week&from=2026-04-27&to=2026-05-03", "by month only"),
        ("by=status,period&period=day&from=2026-05-01&to=2026-05-31", "by month only"),
        ("by=zone&period=fortnight", "period: one of"),
        ("by=zone&format=xlsx", "format: one of"),
        ("by=category&format=geojson", "needs by=zone"),
        ("by=zone&from=2026-05-01&to=2026-03-31", "empty or inverted"),
        ("by=zone&from=yesterday", "YYYY-MM-DD"),
        ("by=zone&from=2026-05-04&to=2026-05-31", "use 2026-05-01 or 2026-06-01"),
        ("by=zone&from=2026-05-01&to=2026-05-30", "use 2026-04-30 or 2026-05-31"),
        ("by=period&period=week&from=2026-05-06&to=2026-05-31", "use 2026-05-04 or 2026-05-11"),
        ("by=zone&from=2026-05-01&to=2099-12-31", "whole months once they have ended"),
        ("by=period&period=day&from=2020-01-01&to=2026-01-01", "too long a range"),
        ("by=zone&period=month&from=0001-01-01&to=2026-01-31", "too long a range"),
    ],
)
def test_bad_requests_are_400_naming_what_is_wrong_and_publish_nothing(
    app, runtime, world, query: str, says: str
) -> None:  # type: ignore[no-untyped-def]
    response = _api_stats(app, world, query)
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "invalid_input" and says in error["message"], error
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(StatsRelease)) == 0


def test_only_supervisors_and_admins_export_and_every_unit_is_counted(
    app, runtime, world, admin_account, make_account
) -> None:  # type: ignore[no-untyped-def]
    _spread(runtime)
    assert _api_stats(app, world, "by=zone", who="north").status_code == 403
    query = "by=zone&period=month&from=2026-05-01&to=2026-05-31"
    everyone = _api_stats(app, {"admin": admin_account}, query, who="admin").get_json()
    assert {c["zone"] for c in everyone["cells"]} == {"on-north", "qc-montreal"}
    # One population for everyone: a Montréal supervisor gets the same numbers, so no two
    # people's exports can be subtracted from each other.
    montreal_chief = make_account("mtl-chief@example.test", "supervisor", ("qc-montreal-general",))
    theirs = _api_stats(app, {"mtl": montreal_chief}, query, who="mtl").get_json()
    assert theirs["cells"] == everyone["cells"] and theirs["totals"] == everyone["totals"]


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
        settings_env(settings), "stats", "export", "--by", "zone", "--format", "json",
        "--from", "2026-05-01", "--to", "2026-05-31",
    )  # fmt: skip
    assert to_stdout.returncode == 0 and json.loads(to_stdout.stdout)["cells"]
    for bad, says in (
        (["--by", "colour"], "unknown grouping"),
        (["--period", "fortnight"], "period: one of"),
        (["--format", "pdf"], "format: one of"),
        (["--from", "2026-05-01", "--to", "2026-01-31"], "empty or inverted"),
        (["--from", "2026-05-02", "--to", "2026-05-31"], "use 2026-05-01"),
    ):
        result = tipline(settings_env(settings), "stats", "export", *bad)
        assert result.returncode == 2, (bad, result.stderr)
        assert says in result.stderr and "Traceback" not in result.stderr


def test_an_unreachable_ledger_is_a_clear_error_and_publishes_nothing(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = settings_env(settings)
    env["TIPLINE_DATABASE_URL"] = (
        "postgresql+psycopg://nobody@127.0.0.1:1/none"
        if settings.database_url.startswith("postgresql")
        else f"sqlite:///{tmp_path / 'missing' / 'nothing.db'}"
    )
    out = tmp_path / "never.csv"
    result = tipline(
        env, "stats", "export", "--from", "2026-05-01", "--to", "2026-05-31", "-o", str(out)
    )
    assert result.returncode == 2, result.stderr
    assert (
        "database cannot be reached" in result.stderr and "nothing was published" in result.stderr
    )
    assert "Traceback" not in result.stderr and not out.exists()
