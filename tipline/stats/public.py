"""The public transparency page (/transparency), off unless TIPLINE_PUBLIC_STATS=on.

Monthly counts by province, counts by province and category, and outcomes, for the
last twelve whole months: cut from the same monthly releases as every staff export and
chart (so nothing here can be combined with them to learn more), always rounded to base
5 for the public, with a plain-language account of how tips are protected. EN and FR.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, render_template

from tipline.db import transaction
from tipline.i18n import _l
from tipline.models.base import utcnow
from tipline.stats import periods, tables
from tipline.stats.protect import rounded
from tipline.stats.request import parse

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
    last = periods.last_released_month(utcnow(), ZoneInfo(settings.timezone))
    first = last
    for _ in range(11):  # the last twelve whole months
        first = periods.month_start(first - timedelta(days=1))
    end = periods.month_end(last)
    with transaction(runtime.sessions) as session:
        answers = {
            name: tables.answer(
                session,
                config,
                settings,
                parse(by, "month", first.isoformat(), end.isoformat(), "json", last_month=last),
                make_missing=False,  # the scheduler makes them; a visitor never does
            )
            for name, by in (
                ("months", "period,province"),
                ("categories", "province,category"),
                ("outcomes", "disposition"),
            )
        }
    secret = settings.secret_key

    def shown(name: str, entry: tables.Entry) -> tables.Entry:
        # Rounded to base 5 for the public, always (keyed: the same every time). The
        # exact number is already among what staff may publish: rounding it takes
        # nothing away from what the release ledger protects.
        if entry.count is None:
            return entry
        return tables.Entry(entry.key, rounded(secret, f"public|{name}|{entry.key}", entry.count))

    cells = {
        name: {entry.key: shown(name, entry) for entry in answer.cells}
        for name, answer in answers.items()
    }
    return render_template(
        "public/transparency.html",
        # Months the scheduler has released (within an hour or so of their end).
        months=[
            p.isoformat()
            for p in _months(first, last)
            if f"{p:%Y-%m}" in answers["months"].method["released"]
        ],
        cells=cells,
        outcomes=[shown("outcomes", e) for e in answers["outcomes"].cells],
        outcome_names=OUTCOMES,
        provinces=config.provinces,
        categories=config.categories,
        start=first,
        end=end,
        k=answers["months"].method["k"],
    )


def _months(first: date, last: date) -> list[date]:
    found, month = [], first
    while month <= last:
        found.append(month)
        month = periods.next_month(month)
    return found
