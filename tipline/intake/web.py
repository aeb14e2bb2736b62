"""The tipster's web form: GET shows it, POST accepts one tip and shows the receipt."""

from __future__ import annotations

import logging

import redis
from flask import Blueprint, current_app, redirect, render_template, request, url_for

from tipline.db import transaction
from tipline.errors import InvalidInput
from tipline.intake.service import UNKNOWN_ZONE, TipSubmission, accept_tip
from workers.queues import enqueue_route_tip

bp = Blueprint("intake", __name__)
log = logging.getLogger("tipline.intake")


def _runtime():  # type: ignore[no-untyped-def]
    return current_app.extensions["tipline"]


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    return redirect(url_for("intake.tip_form"))


def _form_page(status: int = 200, error: InvalidInput | None = None, values=None):  # type: ignore[no-untyped-def]
    config = _runtime().config
    provinces = sorted(config.provinces.values(), key=lambda p: p.id)
    zones_by_province = {
        p.id: sorted(
            (z for z in config.zones.values() if z.province == p.id), key=lambda z: z.names["en"]
        )
        for p in provinces
    }
    return (
        render_template(
            "intake/form.html",
            categories=sorted(config.categories.values(), key=lambda c: c.sms_menu),
            provinces=provinces,
            zones_by_province=zones_by_province,
            unknown_zone=UNKNOWN_ZONE,
            error=error,
            values=values or {},
        ),
        status,
    )


@bp.get("/tip")
def tip_form():  # type: ignore[no-untyped-def]
    return _form_page()


@bp.post("/tip")
def submit_tip():  # type: ignore[no-untyped-def]
    runtime = _runtime()
    submission = TipSubmission(
        category=request.form.get("category", "").strip(),
        zone=request.form.get("zone", "").strip(),
        description=request.form.get("description", ""),
        lang=request.form.get("lang", "en").strip() or "en",
        channel="web",
        postal_code=request.form.get("postal_code", ""),
        lat=request.form.get("lat", ""),
        lon=request.form.get("lon", ""),
        honeypot=request.form.get("website", ""),
    )
    try:
        with transaction(runtime.sessions) as session:
            receipt = accept_tip(
                session,
                runtime.config,
                runtime.recovery_public,
                submission,
                max_chars=runtime.settings.max_description_chars,
                granularity_minutes=runtime.settings.time_granularity_minutes,
            )
    except InvalidInput as error:
        values = {
            "category": submission.category,
            "zone": submission.zone,
            "description": submission.description,
            "postal_code": submission.postal_code,
            "lat": submission.lat,
            "lon": submission.lon,
        }
        return _form_page(400, error, values)
    try:
        enqueue_route_tip(runtime, receipt.tip_id)
    except redis.RedisError as exc:
        # The tip is committed with its outbox entry: the sweeper enqueues it later.
        log.warning("route_tip deferred to the sweeper (%s)", type(exc).__name__)
    return render_template("intake/receipt.html", reference=receipt.reference)
