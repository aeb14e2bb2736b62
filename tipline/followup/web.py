"""The tipster's follow-up pages: GET/POST /followup.

POST /followup signs in (reference + passphrase) or, in a session, sends a reply (field
``message``, optional ``attachments``). Each POST answers with a redirect, so a reload
never sends a reply twice.
"""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
)

from tipline.crypto import SealError
from tipline.db import transaction
from tipline.errors import NotFound, TiplineError, Unauthorized
from tipline.followup import signin
from tipline.followup.thread import TIPSTER, add_files, post_message, read_thread
from tipline.i18n import _l, localized_url
from tipline.intake.attachments import MAX_FILES, clean_uploads, received_files, seal_files
from tipline.intake.limits import limiter
from tipline.intake.scrub import ACCEPTED
from tipline.models import Tip

bp = Blueprint("followup", __name__)
log = logging.getLogger("tipline.followup")


def _runtime():  # type: ignore[no-untyped-def]
    return current_app.extensions["tipline"]


def followup_limit() -> str:
    return str(_runtime().settings.followup_rate_limit)


def _cookie() -> str | None:
    return request.cookies.get(signin.cookie_name(_runtime()))


def _set_cookie(response, value: str, max_age: int | None) -> None:  # type: ignore[no-untyped-def]
    runtime = _runtime()
    response.set_cookie(
        signin.cookie_name(runtime),
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=runtime.settings.secure_cookies,
    )


def _sign_in_page(status: int = 200, error: TiplineError | None = None, reference: str = ""):  # type: ignore[no-untyped-def]
    return render_template("followup/signin.html", error=error, reference=reference), status


def _thread_page(
    signed_in: signin.TipsterSession, status: int = 200, error: TiplineError | None = None
):  # type: ignore[no-untyped-def]
    runtime = _runtime()
    with runtime.sessions() as db:
        tip = db.get(Tip, signed_in.tip_id)
        if tip is None:  # deleted by retention while the tipster was signed in
            raise NotFound(_l("This tip is no longer available."))
        try:
            thread = read_thread(db, tip, signed_in.tip_key)
        except SealError:
            log.error("a follow-up item did not open")
            raise NotFound(_l("This tip is no longer available.")) from None
        reference, closed = tip.reference, tip.status == "closed"
    return (
        render_template(
            "followup/thread.html",
            reference=reference,
            thread=thread,
            closed=closed,
            error=error,
            sent=request.args.get("sent") == "1",
            message=request.form.get("message", "") if error else "",
            idle_minutes=runtime.settings.followup_session_minutes,
            max_files=MAX_FILES,
            max_file_mb=runtime.settings.max_attachment_bytes // (1024 * 1024),
            accepted=ACCEPTED,
        ),
        status,
    )


@bp.get("/followup")
def page():  # type: ignore[no-untyped-def]
    signed_in = signin.load_session(_runtime(), _cookie())
    if signed_in is None:
        return _sign_in_page()
    return _thread_page(signed_in)


@bp.post("/followup")
@limiter.limit(followup_limit)
def post():  # type: ignore[no-untyped-def]
    if "passphrase" in request.form:
        return _sign_in()
    signed_in = signin.load_session(_runtime(), _cookie())
    if signed_in is None:
        error = Unauthorized(
            _l("Your follow-up session ended. Please sign in again; your message was not sent.")
        )
        return _sign_in_page(401, error)
    return _reply(signed_in)


def _sign_in():  # type: ignore[no-untyped-def]
    runtime = _runtime()
    reference = request.form.get("reference", "")
    try:
        with transaction(runtime.sessions) as db:
            signed_in = signin.sign_in(db, runtime, reference, request.form.get("passphrase", ""))
    except TiplineError as error:
        return _sign_in_page(error.status, error, reference)
    # A new sign-in replaces whatever session this browser had.
    signin.close_session(runtime, _cookie())
    response = make_response(redirect(localized_url("followup.page"), 303))
    _set_cookie(response, signin.open_session(runtime, signed_in), None)
    return response


def _reply(signed_in: signin.TipsterSession):  # type: ignore[no-untyped-def]
    runtime = _runtime()
    settings = runtime.settings
    try:
        with received_files(request.files.getlist("attachments"), runtime.store) as (
            uploads,
            written,
        ):
            files = clean_uploads(
                uploads, settings.max_attachment_bytes, settings.max_attachments_bytes
            )
            with transaction(runtime.sessions) as db:
                tip = db.get(Tip, signed_in.tip_id)
                if tip is None:
                    raise NotFound(_l("This tip is no longer available."))
                if tip.status == "closed":
                    raise Unauthorized(
                        _l("This tip is closed: you can read the messages but not reply."),
                        field="message",
                    )
                post_message(
                    db,
                    tip,
                    TIPSTER,
                    request.form.get("message", ""),
                    settings.time_granularity_minutes,
                )
                rows = seal_files(files, runtime.store, tip.public_key, tip.reference, written)
                add_files(db, tip, rows, settings.time_granularity_minutes)
                tip.reply_waiting = True
    except TiplineError as error:
        return _thread_page(signed_in, error.status, error)
    return redirect(localized_url("followup.page", sent=1), 303)


@bp.post("/followup/signout")
def sign_out():  # type: ignore[no-untyped-def]
    signin.close_session(_runtime(), _cookie())
    response = make_response(redirect(localized_url("followup.page"), 303))
    _set_cookie(response, "", 0)
    return response
