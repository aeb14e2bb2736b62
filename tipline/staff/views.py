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

from tipline.db import transaction
from tipline.errors import Unauthorized
from tipline.followup.thread import REWARD_DECISIONS
from tipline.models import Staff
from tipline.models.base import utcnow
from tipline.staff.access import actor_of
from tipline.staff.actions import REWARD_ROLES, perform
from tipline.staff.login import authenticate
from tipline.staff.reading import read_attachment, read_tip, reader_units, unit_members
from tipline.staff.sessions import close_session, cookie_name, load_session, open_session
from tipline.triage.config import PRIORITIES
from tipline.triage.queue import SORTS, list_queue, parse_filter
from tipline.triage.workflow import DISPOSITIONS, LINK_KINDS, STATUSES, TRANSITIONS
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
    args = request.args.to_dict(flat=True)
    with transaction(runtime.sessions) as db:
        actor = actor_of(db, g.staff_session)
        staff = db.get(Staff, actor.staff_id)
        units = reader_units(db, actor.staff_id)
        queue_filter = parse_filter(args)
        page = list_queue(
            db,
            units,
            queue_filter,
            actor_id=actor.staff_id,
            now=utcnow(),
            cursor=args.get("cursor") or None,
        )
        email = staff.email if staff else ""
    next_url = None
    if page.next_cursor:
        next_url = url_for("staff.queue", **{**args, "cursor": page.next_cursor})
    return render_template(
        "staff/queue.html",
        rows=page.items,
        email=email,
        filter=queue_filter,
        args=args,
        units=sorted(units.values()),
        statuses=STATUSES,
        priorities=PRIORITIES,
        sorts=SORTS,
        next_url=next_url,
        my_id=actor.staff_id,
        role=actor.role,
    )


@bp.get("/tips/<reference>")
@login_required
def tip(reference: str):  # type: ignore[no-untyped-def]
    runtime = _runtime()
    with transaction(runtime.sessions) as db:
        actor = actor_of(db, g.staff_session)
        opened, thread = read_tip(db, g.staff_session, reference.strip().upper())
        members = unit_members(db, [slug for slug, _ in opened.units]) if actor.supervises else []
        all_units = sorted(runtime.config.units)
    return render_template(
        "staff/tip.html",
        tip=opened,
        thread=thread,
        attachments=thread.files,
        actor=actor,
        may_decide_reward=actor.role in REWARD_ROLES,
        decisions=REWARD_DECISIONS,
        dispositions=DISPOSITIONS,
        next_statuses=[s for s in TRANSITIONS.get(opened.status, ()) if s != "closed"],
        may_close="closed" in TRANSITIONS.get(opened.status, ()),
        link_kinds=LINK_KINDS,
        members=members,
        refer_units=[u for u in all_units if u not in dict(opened.units)],
        sent=request.args.get("sent"),
    )


@bp.post("/tips/<reference>/<action>")
@login_required
def act(reference: str, action: str):  # type: ignore[no-untyped-def]
    """Every change to a tip from its page: claim, status, note, message, … (actions.py)."""
    runtime = _runtime()
    with transaction(runtime.sessions) as db:
        done = perform(db, runtime, g.staff_session, reference, action, request.form)
    enqueue_committed(runtime, done.work)
    return redirect(url_for("staff.tip", reference=done.reference, sent=done.outcome), 303)


@bp.get("/tips/<reference>/attachments/<item_key>")
@login_required
def attachment(reference: str, item_key: str):  # type: ignore[no-untyped-def]
    runtime = _runtime()
    with transaction(runtime.sessions) as db:
        info, spool = read_attachment(
            db, g.staff_session, runtime.store, reference.strip().upper(), item_key
        )
    return download(info, spool)


def download(info, spool):  # type: ignore[no-untyped-def]
    """An opened attachment as a response: always a download, never rendered in our
    origin (the type was detected by content), never cached."""
    return send_file(
        spool,
        mimetype=info.media_type,
        as_attachment=True,
        download_name=info.name,
        max_age=0,
        etag=False,
        last_modified=None,
    )
