"""The supervisors' statistics dashboard: charts, the zone map, downloads.

Every chart is drawn from an answer cut from the months' releases (tipline/stats), the
same numbers the downloads, the API and the public page give: nothing on this page is
counted here. The page covers whole months that have ended; the first chart can show
them by month, by week or by day.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, g, render_template, request, url_for
from flask_babel import format_date
from markupsafe import Markup

from tipline import audit
from tipline.db import transaction
from tipline.errors import InvalidInput
from tipline.i18n import _l, localized_name
from tipline.models.base import utcnow
from tipline.staff.access import actor_of
from tipline.staff.views import login_required
from tipline.stats import charts, periods, tables
from tipline.stats import request as stats_request
from tipline.stats.export import check_may_export, export
from tipline.stats.public import OUTCOMES

bp = Blueprint("dashboard", __name__, url_prefix="/staff")

GRIDS = {"month": _l("by month"), "week": _l("by week"), "day": _l("by day")}
MONTHS_OFFERED = 36  # how far back the month lists go


def _runtime():  # type: ignore[no-untyped-def]
    return current_app.extensions["tipline"]


def _last_month() -> date:
    return periods.last_released_month(utcnow(), ZoneInfo(_runtime().settings.timezone))


def _month_arg(name: str, default: date) -> date:
    raw = request.args.get(name, "")
    if not raw:
        return default
    try:
        return date.fromisoformat(raw + "-01" if len(raw) == 7 else raw).replace(day=1)
    except ValueError:
        raise InvalidInput(f"{name}: a month as YYYY-MM.", field=name) from None


def _window() -> tuple[date, date, str]:
    """(first month, last month, grid of the first chart), checked."""
    last = _last_month()
    to = _month_arg("to", last)
    first = _month_arg("from", periods.month_start(to - timedelta(days=330)))
    grid = request.args.get("grid", "month")
    if grid not in GRIDS:
        raise InvalidInput("grid: month, week or day.", field="grid")
    if to > last:
        raise InvalidInput(
            "to: statistics are published for whole months once they have ended; "
            f"the last is {last:%Y-%m}.",
            field="to",
        )
    if first > to:
        raise InvalidInput("from/to: the range is empty or inverted.", field="from")
    return first, to, grid


def _ask(by: str, period: str, start: date, end: date) -> stats_request.StatsRequest:
    """A request of whole periods between ``start`` and ``end`` (inclusive)."""
    return stats_request.parse(
        by, period, start.isoformat(), end.isoformat(), "json", last_month=_last_month()
    )


def _over_time_window(first: date, last_month: date, grid: str) -> tuple[date, date]:
    end = periods.month_end(last_month)
    if grid == "month":
        return first, end
    if grid == "week":
        start = first + timedelta(days=(7 - first.weekday()) % 7)  # the first Monday
        stop = end - timedelta(days=(end.weekday() + 1) % 7)  # the last Sunday
        return start, max(stop, start + timedelta(days=6))
    return max(first, end - timedelta(days=stats_request.MAX_SPAN["day"].days - 1)), end


def _period_label(start: date, grid: str) -> str:
    if grid == "month":
        return format_date(start, "MMM y")
    return format_date(start, "d MMM")


@bp.get("/stats")
@login_required
def stats_page():  # type: ignore[no-untyped-def]
    runtime = _runtime()
    config, settings = runtime.config, runtime.settings
    first, last, grid = _window()
    series_key = "category" if grid != "day" else "province"
    start, end = _over_time_window(first, last, grid)
    asked = {
        "time": _ask(f"{series_key},period", grid, start, end),
        "zone": _ask("zone", "month", first, periods.month_end(last)),
        "outcome": _ask("disposition", "month", first, periods.month_end(last)),
        "triage": _ask("zone", "month", last, periods.month_end(last)),
    }
    with transaction(runtime.sessions) as db:
        actor = actor_of(db, g.staff_session)
        check_may_export(actor)
        answers = {name: tables.answer(db, config, settings, a) for name, a in asked.items()}
        audit.record(db, actor.name, "stats.dashboard", f"{first}..{periods.month_end(last)}")
    names = {cid: localized_name(c.names) for cid, c in config.categories.items()}
    names |= {pid: localized_name(p.names) for pid, p in config.provinces.items()}
    zone_names = {zid: localized_name(z.names) for zid, z in config.zones.items()}
    by_period: dict[str, list[tuple[str, int | None]]] = {}
    for entry in answers["time"].cells:
        series, period = entry.key
        by_period.setdefault(period, []).append((series, entry.count))
    time_columns = [
        charts.Column(_period_label(date.fromisoformat(p), grid), parts)
        for p, parts in sorted(by_period.items())
    ]
    zone_counts = {e.key[0]: e.count for e in answers["zone"].cells}
    tips, hours = str(_l("tips")), str(_l("hours"))
    captions = {
        "time": str(_over_time_title(grid)),
        "map": str(_l("Map of tips by zone")),
        "zone": str(_l("Tips by zone")),
        "triage": str(
            _l("Median hours to first triage, by zone, %(month)s", month=_month_name(last))
        ),
        "outcome": str(_l("Closed tips by outcome")),
    }
    zone_bars = _by_size([charts.Bar(zone_names.get(z, z), c) for z, c in zone_counts.items()])
    triage_bars = _by_size(
        [
            _triage_bar(zone_names.get(e.key[0], e.key[0]), e, settings.stats_k)
            for e in answers["triage"].cells
        ]
    )
    outcome_bars = _by_size(
        [
            charts.Bar(str(OUTCOMES.get(e.key[0], e.key[0])), e.count)
            for e in answers["outcome"].cells
            if e.key[0] != "none"
        ]
    )
    no_outcome = str(_l("No closed tips in this period."))

    def drawn(width: int, suffix: str) -> dict[str, str]:
        """Every chart at one width: a wide one for screens, a narrow one for phones
        (drawn narrow rather than shrunk, so that its words stay readable)."""
        return {
            "time": charts.columns(
                "time" + suffix, captions["time"], time_columns, names, width, unit=tips
            ),
            "map": charts.zone_map("map" + suffix, captions["map"], zone_counts, config, width),
            "zone": charts.bars("zone" + suffix, captions["zone"], zone_bars, width, unit=tips),
            "triage": charts.bars(
                "triage" + suffix, captions["triage"], triage_bars, width, unit=hours
            ),
            "outcome": charts.bars(
                "outcome" + suffix,
                captions["outcome"],
                outcome_bars,
                width,
                empty=no_outcome,
                unit=tips,
            ),
        }

    wide, narrow = drawn(560, ""), drawn(340, "-narrow")
    svg = {
        name: f'<div class="wide">{wide[name]}</div><div class="narrow">{narrow[name]}</div>'
        for name in wide
    }
    window = {"from": f"{first:%Y-%m}", "to": f"{last:%Y-%m}"}
    downloads = [
        (label, url_for("dashboard.stats_download", by=by, format=fmt, **window))
        for by, fmt, label in (
            ("zone,category", "csv", _l("Zone × category (CSV)")),
            ("zone,category,period", "csv", _l("Zone × category × month (CSV)")),
            ("category,disposition", "json", _l("Category × outcome (JSON)")),
            ("zone", "geojson", _l("Zones for GIS tools (GeoJSON)")),
        )
    ]
    offered = [_last_month()]
    while len(offered) < MONTHS_OFFERED:
        offered.append(periods.month_start(offered[-1] - timedelta(days=1)))
    released = answers["zone"].method["released"]
    return render_template(
        "staff/stats.html",
        downloads=downloads,
        svg={name: Markup(text) for name, text in svg.items()},  # noqa: S704 - drawn by us, labels escaped
        captions=captions,
        k=answers["zone"].method["k"],
        rounding=answers["zone"].method["rounding"] != "none",
        months=[(f"{m:%Y-%m}", _month_name(m)) for m in offered],
        grids=list(GRIDS.items()),
        chosen={"from": f"{first:%Y-%m}", "to": f"{last:%Y-%m}", "grid": grid},
        first=_month_name(first),
        last=_month_name(last),
        made=min(released.values()) if released else None,
        time_zone=settings.timezone,
        empty=not answers["zone"].cells,
        next_release=format_date(_this_months_release(settings.timezone), "d MMMM y"),
    )


def _this_months_release(timezone: str) -> date:
    """The day this month's tips are first counted: the first of next month."""
    today = utcnow().astimezone(ZoneInfo(timezone)).date()
    return periods.next_month(periods.month_start(today))


def _by_size(items: list[charts.Bar]) -> list[charts.Bar]:
    """Largest first, then the withheld and missing ones, each group by name."""
    return sorted(items, key=lambda b: (b.value is None, -(b.value or 0), b.label))


def _month_name(month: date) -> str:
    return format_date(month, "LLLL y")


def _over_time_title(grid: str) -> object:
    if grid == "day":
        return _l("Tips by province, by day")
    if grid == "week":
        return _l("Tips by category, by week")
    return _l("Tips by category, by month")


def _triage_bar(label: str, entry: tables.Entry, k: int) -> charts.Bar:
    median = entry.times.get("triage_median_h")
    if median is not None:
        return charts.Bar(label, round(median))
    # A withheld cell, or one with fewer than k tips triaged yet.
    return charts.Bar(
        label,
        None,
        str(_l("withheld")) if entry.withheld else str(_l("fewer than %(k)s triaged", k=k)),
    )


@bp.get("/stats/export")
@login_required
def stats_download():  # type: ignore[no-untyped-def]
    runtime = _runtime()
    first, last, _ = _window()
    period = request.args.get("period", "month")
    start, end = (first, periods.month_end(last))
    if period != "month":
        start, end = _over_time_window(first, last, period)
    wanted = stats_request.parse(
        request.args.get("by", "zone,category"),
        period,
        start.isoformat(),
        end.isoformat(),
        request.args.get("format", "csv"),
        last_month=_last_month(),
    )
    with transaction(runtime.sessions) as db:
        actor = actor_of(db, g.staff_session)
        check_may_export(actor)
        text, media_type = export(db, runtime.config, runtime.settings, wanted, actor=actor.name)
    extension = {"csv": "csv", "json": "json", "geojson": "geojson"}[wanted.format]
    response = Response(text, mimetype=media_type.split(";")[0])
    response.headers["Content-Disposition"] = f'attachment; filename="tipline-stats.{extension}"'
    return response


__all__ = ["bp"]
