"""Server-rendered staff pages: sign in, the queue, one tip."""

from __future__ import annotations

from functools import wraps

from flask import (
    Blueprint,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from tipline import audit
from tipline.db import transaction
from tipline.errors import Forbidden, Unauthorized
from tipline.followup.thread import (
    INVESTIGATOR,
    REWARD_DECISIONS,
    check_message,
    post_message,
    set_reward,
)
from tipline.models import Staff
from tipline.outbox import Work
from tipline.sms.outbound import queue_text
from tipline.staff.login import authenticate
from tipline.staff.reading import queue_for, read_attachment, read_tip, tip_to_write
from tipline.staff.sessions import close_session, cookie_name, load_session, open_session
from workers.queues import enqueue_committed

bp = Blueprint("staff", __name__, url_prefix="/staff")


def _runtime():  # type: ignore[no-untyped-def]
    return current_app.extensions["tipline"]


def login_required(view):  # type: ignore[no-untyped-def]
    """Every staff page: a live session of an account that is still active."""

    @wraps(view)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        runtime = _runtime()
        session = load_session(runtime, request.cookies.get(cookie_name(runtime)))
        if session is not None:
            with runtime.sessions() as db:
                staff = db.get(Staff, session.staff_id)
                if staff is None or not staff.active:
                    close_session(runtime, request.cookies.get(cookie_name(runtime)))
                    session = None
        if session is None:
            return redirect(url_for("staff.login"))
        g.staff_session = session
        return view(*args, **kwargs)

    return wrapper


def _set_cookie(response, value: str, max_age: int | None) -> None:  # type: ignore[no-untyped-def]
    response.set_cookie(
        cookie_name(_runtime()),
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=_runtime().settings.secure_cookies,
    )


@bp.get("/login")
def login():  # type: ignore[no-untyped-def]
    return render_template("staff/login.html", error=None)


@bp.post("/login")
def login_post():  # type: ignore[no-untyped-def]
    runtime = _runtime()
    try:
        with transaction(runtime.sessions) as db:
            staff, staff_key = authenticate(
                db,
                runtime,
                request.form.get("email", ""),
                request.form.get("password", ""),
                request.form.get("totp", ""),
            )
            staff_id = staff.id
    except Unauthorized as error:
        return render_template("staff/login.html", error=error.message), 401
    # A new sign-in replaces whatever session this browser had (no fixation, no leftovers).
    close_session(runtime, request.cookies.get(cookie_name(runtime)))
    response = make_response(redirect(url_for("staff.queue")))
    _set_cookie(response, open_session(runtime, staff_id, staff_key), None)
    return response


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    runtime = _runtime()
    close_session(runtime, request.cookies.get(cookie_name(runtime)))
    response = make_response(redirect(url_for("staff.login")))
    _set_cookie(response, "", 0)
    return response


@bp.get("/")
@login_required
def queue():  # type: ignore[no-untyped-def]
    runtime = _runtime()
    with transaction(runtime.sessions) as db:
        staff = db.get(Staff, g.staff_session.staff_id)
        rows = queue_for(db, g.staff_session.staff_id)
        email = staff.email if staff else ""
    return render_template("staff/queue.html", rows=rows, email=email)


@bp.get("/tips/<reference>")
@login_required
def tip(reference: str):  # type: ignore[no-untyped-def]
    runtime = _runtime()
    with transaction(runtime.sessions) as db:
        opened, thread = read_tip(db, g.staff_session, reference.strip().upper())
        staff = db.get(Staff, g.staff_session.staff_id)
        may_decide_reward = staff is not None and staff.role in REWARD_ROLES
    return render_template(
        "staff/tip.html",
        tip=opened,
        thread=thread,
        attachments=thread.files,
        may_decide_reward=may_decide_reward,
        decisions=REWARD_DECISIONS,
        sent=request.args.get("sent"),
    )


# Rewards are a supervisor's decision (Crime Stoppers practice: not the investigator's).
REWARD_ROLES = ("supervisor",)


@bp.post("/tips/<reference>/messages")
@login_required
def message(reference: str):  # type: ignore[no-untyped-def]
    """Ask the tipster a question: sealed to the tip, read at /followup."""
    runtime = _runtime()
    text = check_message(request.form.get("message", ""))
    sms: Work | None = None
    with transaction(runtime.sessions) as db:
        tip = tip_to_write(db, g.staff_session, reference.strip().upper())
        post_message(db, tip, INVESTIGATOR, text, runtime.settings.time_granularity_minutes)
        if tip.channel == "sms":
            # Also texted to the tipster, by the worker, through the sealed reply handle.
            sms = queue_text(db, runtime, tip, text)
        audit.record(db, f"staff:{g.staff_session.staff_id}", "tip.message", tip.reference)
        target, channel = tip.reference, tip.channel
    if sms is not None:
        enqueue_committed(runtime, (sms,))
    sent = "message" if channel == "web" else ("sms" if sms is not None else "sms-unreachable")
    return redirect(url_for("staff.tip", reference=target, sent=sent), 303)


@bp.post("/tips/<reference>/reward")
@login_required
def reward(reference: str):  # type: ignore[no-untyped-def]
    runtime = _runtime()
    with transaction(runtime.sessions) as db:
        staff = db.get(Staff, g.staff_session.staff_id)
        if staff is None or staff.role not in REWARD_ROLES:
            raise Forbidden("Only a supervisor can decide a reward.")
        tip = tip_to_write(db, g.staff_session, reference.strip().upper())
        set_reward(
            db,
            tip,
            request.form.get("decision", ""),
            request.form.get("note", ""),
            runtime.settings.time_granularity_minutes,
        )
        audit.record(db, f"staff:{staff.id}", "tip.reward", tip.reference)
        target = tip.reference
    return redirect(url_for("staff.tip", reference=target, sent="reward"), 303)


@bp.get("/tips/<reference>/attachments/<item_key>")
@login_required
def attachment(reference: str, item_key: str):  # type: ignore[no-untyped-def]
    runtime = _runtime()
    with transaction(runtime.sessions) as db:
        info, spool = read_attachment(
            db, g.staff_session, runtime.store, reference.strip().upper(), item_key
        )
    # Always a download, never rendered in our origin; the type was detected by content.
    return send_file(
        spool,
        mimetype=info.media_type,
        as_attachment=True,
        download_name=info.name,
        max_age=0,
        etag=False,
        last_modified=None,
    )
