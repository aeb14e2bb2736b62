"""Server-rendered pages for managing people: accounts (admins), unit members
(supervisors), one's own password, and the audit trail. Rules are in staff/admin.py."""

from __future__ import annotations

import pyotp
from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from tipline.db import transaction
from tipline.errors import InvalidInput
from tipline.models.staff import ROLES
from tipline.staff import admin
from tipline.staff.access import actor_of
from tipline.staff.views import login_required

bp = Blueprint("manage", __name__, url_prefix="/staff")


def _runtime():  # type: ignore[no-untyped-def]
    return current_app.extensions["tipline"]


def _staff_id(raw: str) -> int:
    if not raw.isdigit():
        raise InvalidInput("Not an account.")
    return int(raw)


@bp.get("/accounts")
@login_required
def accounts():  # type: ignore[no-untyped-def]
    with transaction(_runtime().sessions) as db:
        actor = actor_of(db, g.staff_session)
        rows = admin.accounts(db, actor)
    return render_template("staff/accounts.html", accounts=rows, roles=ROLES, me=actor.staff_id)


@bp.post("/accounts")
@login_required
def create_account():  # type: ignore[no-untyped-def]
    runtime = _runtime()
    with transaction(runtime.sessions) as db:
        actor = actor_of(db, g.staff_session)
        created = admin.create_account(
            db,
            actor,
            request.form.get("email", ""),
            request.form.get("role", ""),
            runtime.settings.kdf,
        )
        email = created.staff.email
    uri = pyotp.TOTP(created.totp_secret).provisioning_uri(name=email, issuer_name="Tipline")
    # Shown once (the page is no-store); hand it over in person, not by email.
    return render_template(
        "staff/account_created.html", email=email, password=created.password, totp_uri=uri
    )


@bp.post("/accounts/<staff_id>/<change>")
@login_required
def change_account(staff_id: str, change: str):  # type: ignore[no-untyped-def]
    with transaction(_runtime().sessions) as db:
        actor = actor_of(db, g.staff_session)
        target = _staff_id(staff_id)
        if change == "deactivate":
            admin.set_active(db, actor, target, False)
        elif change == "activate":
            admin.set_active(db, actor, target, True)
        elif change == "role":
            admin.set_role(db, actor, target, request.form.get("role", ""))
        else:
            raise InvalidInput("Unknown change.")
    return redirect(url_for("manage.accounts"), 303)


@bp.get("/units")
@login_required
def units():  # type: ignore[no-untyped-def]
    with transaction(_runtime().sessions) as db:
        actor = actor_of(db, g.staff_session)
        rows = admin.my_units(db, actor)
    return render_template("staff/units.html", units=rows, me=actor.staff_id)


@bp.post("/units/<slug>/members")
@login_required
def add_member(slug: str):  # type: ignore[no-untyped-def]
    with transaction(_runtime().sessions) as db:
        actor = actor_of(db, g.staff_session)
        admin.grant_membership(db, actor, g.staff_session, slug, request.form.get("email", ""))
    return redirect(url_for("manage.units"), 303)


@bp.post("/units/<slug>/members/<staff_id>/remove")
@login_required
def remove_member(slug: str, staff_id: str):  # type: ignore[no-untyped-def]
    with transaction(_runtime().sessions) as db:
        actor = actor_of(db, g.staff_session)
        admin.revoke_membership(db, actor, slug, _staff_id(staff_id))
    return redirect(url_for("manage.units"), 303)


@bp.get("/audit")
@login_required
def audit_trail():  # type: ignore[no-untyped-def]
    before = request.args.get("before", "")
    if before and not before.isdigit():
        raise InvalidInput("before: an entry number.")
    with transaction(_runtime().sessions) as db:
        actor = actor_of(db, g.staff_session)
        entries = admin.audit_trail(db, actor, int(before) if before else None)
    older = entries[-1].seq if len(entries) == admin.AUDIT_PAGE else None
    return render_template("staff/audit.html", entries=entries, older=older)


@bp.get("/password")
@login_required
def password():  # type: ignore[no-untyped-def]
    return render_template("staff/password.html", done=request.args.get("done"))


@bp.post("/password")
@login_required
def change_password():  # type: ignore[no-untyped-def]
    runtime = _runtime()
    with transaction(runtime.sessions) as db:
        admin.change_password(
            db,
            g.staff_session.staff_id,
            request.form.get("password", ""),
            request.form.get("new_password", ""),
            runtime.settings.kdf,
        )
    return redirect(url_for("manage.password", done="1"), 303)
