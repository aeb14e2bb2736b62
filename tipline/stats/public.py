"""The public transparency page (/transparency), off unless TIPLINE_PUBLIC_STATS=on.

Monthly counts by province, counts by province and category, and outcomes, for the
last twelve months, with the same disclosure control as staff exports (and always
rounded to base 5: the public gets no exact small differences between months), plus a
plain-language account of how tips are protected. English and French.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, render_template

from tipline.i18n import _l
from tipline.models.base import utcnow
from tipline.stats.export import build
from tipline.stats.request import StatsRequest

bp = Blueprint("public", __name__)

OUTCOMES = {
    "none": _l("Still being worked on"),
    "unfounded": _l("Unfounded"),
    "duplicate": _l("Duplicate of another tip"),
    "insufficient_information": _l("Not enough information"),
    "information_passed": _l("Information passed on"),
    "under_investigation": _l("Under investigation"),
    "arrest": _l("Arrest"),
    "charges_laid": _l("Charges laid"),
    "property_recovered": _l("Property recovered"),
    "drugs_seized": _l("Drugs seized"),
    "no_action": _l("No action needed"),
}


@bp.get("/transparency")
def transparency():  # type: ignore[no-untyped-def]
    runtime = current_app.extensions["tipline"]
    settings, config = runtime.settings, runtime.config
    if not settings.public_stats:
        abort(404)
    tz = ZoneInfo(settings.timezone)
    today = utcnow().astimezone(tz).date()
    end = today.replace(day=1)  # whole months only: the current one is still moving
    start = (end - timedelta(days=365)).replace(day=1)
    tables = {}
    with runtime.sessions() as session:
        for name, keys in (
            ("months", ("period", "province")),
            ("categories", ("province", "category")),
            ("outcomes", ("disposition",)),
        ):
            wanted = StatsRequest(keys, "month", start, end, "json", settings.stats_k, True)
            tables[name] = build(
                session, config, wanted, tz=tz, unit_ids=None, secret=settings.secret_key
            )
    cells = {name: {c.key: c for c in table.cells} for name, table in tables.items()}
    return render_template(
        "public/transparency.html",
        months=sorted({c.key[0] for c in tables["months"].cells}),
        cells=cells,
        outcomes=tables["outcomes"].cells,
        outcome_names=OUTCOMES,
        provinces=config.provinces,
        categories=config.categories,
        start=start,
        end=end - timedelta(days=1),
        k=settings.stats_k,
    )
