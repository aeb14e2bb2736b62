"""The tipster's web form: GET shows it, POST accepts one tip and shows the receipt."""

from __future__ import annotations

import logging

import redis
from flask import Blueprint, current_app, redirect, render_template, request, url_for

from tipline.db import transaction
from tipline.errors import TiplineError
from tipline.i18n import chosen_language, current_language, localized_name, name_sort_key
from tipline.intake import pow as proof
from tipline.intake.attachments import MAX_FILES, clean_uploads, received_files
from tipline.intake.limits import (
    limiter,
    paid_tip_limit,
    proof_of_work_paid,
    proof_of_work_unpaid,
    tip_limit,
)
from tipline.intake.scrub import ACCEPTED
from tipline.intake.service import MIN_DESCRIPTION, UNKNOWN_ZONE, TipSubmission, accept_tip
from workers.queues import enqueue_route_tip

bp = Blueprint("intake", __name__)
log = logging.getLogger("tipline.intake")


def _runtime():  # type: ignore[no-untyped-def]
    return current_app.extensions["tipline"]


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    chosen = chosen_language()
    return redirect(url_for("intake.tip_form", **({"lang": chosen} if chosen else {})))


def _form_page(status: int = 200, error: TiplineError | None = None, values=None):  # type: ignore[no-untyped-def]
    runtime = _runtime()
    config = runtime.config
    provinces = sorted(config.provinces.values(), key=lambda p: p.id)
    zones_by_province = {
        p.id: sorted(
            (z for z in config.zones.values() if z.province == p.id),
            key=lambda z: name_sort_key(localized_name(z.names)),
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
            min_description=MIN_DESCRIPTION,
            max_files=MAX_FILES,
            max_file_mb=runtime.settings.max_attachment_bytes // (1024 * 1024),
            max_total_mb=runtime.settings.max_attachments_bytes // (1024 * 1024),
            accepted=ACCEPTED,
            error=error,
            values=values or {},
            pow_challenge=(
                proof.new_challenge(runtime.settings.secret_key, runtime.settings.pow_bits)
                if runtime.settings.pow_bits
                else None
            ),
            pow_bits=runtime.settings.pow_bits,
        ),
        status,
    )


@bp.get("/tip")
def tip_form():  # type: ignore[no-untyped-def]
    return _form_page()


def form_again(status: int, error: TiplineError, form) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """The form again, with the message and everything the tipster typed."""
    fields = ("category", "zone", "description", "postal_code", "lat", "lon")
    return _form_page(status, error, {name: form.get(name, "") for name in fields})


@bp.post("/tip")
@limiter.limit(tip_limit, exempt_when=proof_of_work_paid)
@limiter.limit(paid_tip_limit, scope="paid-tips", exempt_when=proof_of_work_unpaid)
def submit_tip():  # type: ignore[no-untyped-def]
    runtime = _runtime()
    submission = TipSubmission(
        category=request.form.get("category", "").strip(),
        zone=request.form.get("zone", "").strip(),
        description=request.form.get("description", ""),
        # The language the page was shown in: replies to the tipster will use it.
        lang=request.form.get("lang", "").strip() or current_language(),
        channel="web",
        postal_code=request.form.get("postal_code", ""),
        lat=request.form.get("lat", ""),
        lon=request.form.get("lon", ""),
        honeypot=request.form.get("website", ""),
    )
    settings = runtime.settings
    try:
        with received_files(request.files.getlist("attachments"), runtime.store) as (
            uploads,
            written,
        ):
            # Scrub first: a file that cannot be cleaned refuses the tip before anything
            # is stored.
            files = clean_uploads(
                uploads, settings.max_attachment_bytes, settings.max_attachments_bytes
            )
            with transaction(runtime.sessions) as session:
                receipt = accept_tip(
                    session,
                    runtime.config,
                    runtime.recovery_public,
                    submission,
                    max_chars=settings.max_description_chars,
                    granularity_minutes=settings.time_granularity_minutes,
                    attachments=files,
                    store=runtime.store,
                    written=written,
                    tipster_pepper=settings.pepper,
                )
    except TiplineError as error:
        # Files must be chosen again: browsers never refill a file input.
        return form_again(error.status, error, request.form)
    try:
        enqueue_route_tip(runtime, receipt.tip_id)
    except redis.RedisError as exc:
        # The tip is committed with its outbox entry: the sweeper enqueues it later.
        log.warning("route_tip deferred to the sweeper (%s)", type(exc).__name__)
    return render_template(
        "intake/receipt.html", reference=receipt.reference, passphrase=receipt.passphrase
    )
