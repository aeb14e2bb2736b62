"""The supervisors' statistics dashboard: charts, the zone map, downloads.

Every chart is drawn from a published (suppressed) table, never from raw counts; the
three tables of a page partition the same tips in unrelated ways (category × period,
zone, disposition), so no withheld number of one can be worked out from another.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, g, render_template, request, url_for
from markupsafe import Markup

from tipline import audit
from tipline.db import transaction
from tipline.i18n import _l, localized_name
from tipline.models.base import utcnow
from tipline.staff.access import actor_of
from tipline.staff.views import login_required
from tipline.stats import charts
from tipline.stats import request as stats_request
from tipline.stats.export import build, export, scope_of
from tipline.stats.public import OUTCOMES
from tipline.stats.request import PERIODS

bp = Blueprint("dashboard", __name__, url_prefix="/staff")

PERIOD_NAMES = {"day": _l("by day"), "week": _l("by week"), "month": _l("by month")}


def _runtime():  # type: ignore[no-untyped-def]
    return current_app.extensions["tipline"]


def _parse(by: str, fmt: str = "json") -> stats_request.StatsRequest:
    settings = _runtime().settings
    return stats_request.parse(
        by,
        request.args.get("period", "month"),
        request.args.get("from") or None,
        request.args.get("to") or None,
        fmt,
        today=utcnow().date(),
        k=settings.stats_k,
        rounding=settings.stats_rounding,
    )


@bp.get("/stats")
@login_required
def stats_page():  # type: ignore[no-untyped-def]
    runtime = _runtime()
    config, settings = runtime.config, runtime.settings
    over_time = _parse("category,period")
    by_zone = _parse("zone")
    by_outcome = _parse("disposition")
    tz = ZoneInfo(settings.timezone)
    with transaction(runtime.sessions) as db:
        actor = actor_of(db, g.staff_session)
        units = scope_of(db, actor)
        tables = {
            name: build(db, config, wanted, tz=tz, unit_ids=units, secret=settings.secret_key)
            for name, wanted in (("time", over_time), ("zone", by_zone), ("outcome", by_outcome))
        }
        audit.record(db, actor.name, "stats.dashboard", f"{over_time.start}..{over_time.end}")
    names = {cid: localized_name(c.names) for cid, c in config.categories.items()}
    zone_names = {zid: localized_name(z.names) for zid, z in config.zones.items()}
    zone_cells = tables["zone"].cells
    svg = {
        "time": charts.over_time("Tips by category over time", tables["time"], names),
        "zone": charts.bars(
            str(_l("Tips by zone")),
            [charts.Bar(zone_names.get(c.key[0], c.key[0]), c.count) for c in zone_cells],
        ),
        "map": charts.zone_map(str(_l("Map of tips by zone")), tables["zone"], config),
        "triage": charts.bars(
            str(_l("Median hours to first triage, by zone")),
            [
                _triage_bar(zone_names.get(c.key[0], c.key[0]), c, settings.stats_k)
                for c in zone_cells
            ],
        ),
        "outcome": charts.bars(
            str(_l("Closed tips by outcome")),
            [
                charts.Bar(str(OUTCOMES.get(c.key[0], c.key[0])), c.count)
                for c in tables["outcome"].cells
                if c.key[0] != "none"
            ],
            empty=str(_l("No closed tips in this period.")),
        ),
    }
    dates = {k: request.args[k] for k in ("period", "from", "to") if request.args.get(k)}
    downloads = [
        (label, url_for("dashboard.stats_download", by=by, format=fmt, **dates))
        for by, fmt, label in (
            ("zone,category", "csv", _l("Zone × category (CSV)")),
            ("zone,category,period", "csv", _l("Zone × category × period (CSV)")),
            ("category,disposition", "json", _l("Category × outcome (JSON)")),
            ("zone", "geojson", _l("Zones for GIS tools (GeoJSON)")),
        )
    ]
    return render_template(
        "staff/stats.html",
        downloads=downloads,
        svg={name: Markup(text) for name, text in svg.items()},  # noqa: S704 - drawn by us, labels escaped
        method=tables["zone"].method,
        periods=[(p, PERIOD_NAMES[p]) for p in PERIODS],
        args=request.args,
    )


def _triage_bar(label: str, cell, k: int) -> charts.Bar:  # type: ignore[no-untyped-def]
    median = cell.times.get("triage_median_h")
    if median is not None:
        return charts.Bar(label, round(median))
    # Withheld with a small cell, or simply no tip triaged yet.
    return charts.Bar(
        label, None, "withheld" if cell.withheld or cell.count < 5 else "none triaged yet"
    )


@bp.get("/stats/export")
@login_required
def stats_download():  # type: ignore[no-untyped-def]
    runtime = _runtime()
    wanted = _parse(request.args.get("by", "zone,category"), request.args.get("format", "csv"))
    with transaction(runtime.sessions) as db:
        actor = actor_of(db, g.staff_session)
        text, media_type = export(
            db,
            runtime.config,
            runtime.settings,
            wanted,
            actor=actor.name,
            unit_ids=scope_of(db, actor),
        )
    extension = {"csv": "csv", "json": "json", "geojson": "geojson"}[wanted.format]
    response = Response(text, mimetype=media_type.split(";")[0])
    response.headers["Content-Disposition"] = f'attachment; filename="tipline-stats.{extension}"'
    return response
