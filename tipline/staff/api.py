"""The JSON API for staff and integrations, under /api/v1, described by /api/v1/openapi.json.

Bearer tokens are staff sessions of their own kind (staff/sessions.py): a token holds the
signed-in staff key sealed in Redis and opens only with the token itself; it ends after
the same inactivity as a page session. Every route but the token and the document needs
one. Errors are ``{"error": {"code", "message"}}`` (app.py), and a tip of another unit is
404 exactly like a tip that does not exist.
"""

from __future__ import annotations

import re
from functools import lru_cache, wraps
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from tipline.db import transaction
from tipline.errors import InvalidInput, Unauthorized
from tipline.models.base import utcnow
from tipline.staff.access import actor_of
from tipline.staff.actions import perform
from tipline.staff.login import authenticate
from tipline.staff.openapi import document
from tipline.staff.reading import read_attachment, read_tip, reader_units
from tipline.staff.sessions import API_KIND, close_session, idle_seconds, load_session, open_session
from tipline.staff.views import download
from tipline.triage.queue import list_queue, parse_filter
from workers.queues import enqueue_committed

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@lru_cache(maxsize=1)
def _query_parameters() -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """(OpenAPI path, method) -> {name: schema} of the query parameters it documents."""
    return {
        (path, method.upper()): {
            p["name"]: p.get("schema", {})
            for p in operation.get("parameters", [])
            if p.get("in") == "query"
        }
        for path, item in document()["paths"].items()
        for method, operation in item.items()
    }


def _allows_empty(schema: dict[str, Any]) -> bool:
    """Whether the document lets this parameter be given empty ("tag=" is "no filter")."""
    if "enum" in schema:
        return "" in schema["enum"]
    if schema.get("type", "string") != "string" or schema.get("minLength", 0) > 0:
        return False
    return "pattern" not in schema or re.search(schema["pattern"], "") is not None


@bp.before_request
def _documented_query_only() -> None:
    """A query parameter the document does not name is refused, not ignored: a misspelt
    filter ("stauts=closed") must not quietly answer with every tip. Nor is one given
    empty where the document does not allow it ("assignee=" is not "any")."""
    if request.url_rule is None or not request.args:
        return
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", request.url_rule.rule)
    known = _query_parameters().get((path.removeprefix(bp.url_prefix or ""), request.method))
    if known is None:
        return
    unknown = sorted(set(request.args) - known.keys())
    if unknown:
        raise InvalidInput(f"Unknown query parameter: {unknown[0][:64]}.", field=unknown[0][:64])
    for name, value in request.args.items(multi=True):
        if value == "" and not _allows_empty(known[name]):
            raise InvalidInput(
                f"{name}: empty. Leave the parameter out for the default.", field=name
            )


def _runtime():  # type: ignore[no-untyped-def]
    return current_app.extensions["tipline"]


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def token_required(view):  # type: ignore[no-untyped-def]
    @wraps(view)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        runtime = _runtime()
        session = load_session(runtime, _bearer(), API_KIND)
        if session is None:
            raise Unauthorized("A valid bearer token is required (POST /api/v1/auth/token).")
        g.staff_session = session
        return view(*args, **kwargs)

    return wrapper


def _json_object() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("Send a JSON object (Content-Type: application/json).")
    return data


@bp.get("/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    return jsonify(document())


@bp.post("/auth/token")
def token():  # type: ignore[no-untyped-def]
    runtime = _runtime()
    data = _json_object()
    fields = {name: data.get(name) for name in ("email", "password", "totp")}
    if not all(isinstance(v, str) and v for v in fields.values()):
        raise InvalidInput("email, password and totp are required strings.")
    with transaction(runtime.sessions) as db:
        staff, staff_key = authenticate(
            db, runtime, fields["email"], fields["password"], fields["totp"]
        )
        staff_id = staff.id
    value = open_session(runtime, staff_id, staff_key, API_KIND)
    return jsonify(
        {"token": value, "token_type": "bearer", "expires_in": idle_seconds(runtime)}
    ), 201


@bp.delete("/auth/token")
@token_required
def revoke():  # type: ignore[no-untyped-def]
    close_session(_runtime(), _bearer(), API_KIND)
    return "", 204


@bp.get("/queue")
@token_required
def queue():  # type: ignore[no-untyped-def]
    runtime = _runtime()
    args = request.args.to_dict(flat=True)
    limit = args.get("limit", "50")
    if not limit.isdigit():
        raise InvalidInput("limit: a whole number.", field="limit")
    with transaction(runtime.sessions) as db:
        actor = actor_of(db, g.staff_session)
        page = list_queue(
            db,
            reader_units(db, actor.staff_id),
            parse_filter(args),
            actor_id=actor.staff_id,
            now=utcnow(),
            limit=int(limit),
            cursor=args.get("cursor") or None,
        )
    return jsonify(
        {
            "items": [
                {
                    "reference": item.reference,
                    "category": item.category,
                    "zone": item.zone,
                    "priority": item.priority,
                    "status": item.status,
                    "received_at": item.received_at.isoformat(),
                    "channel": item.channel,
                    "assignee_id": item.assignee_id,
                    "reply_waiting": item.reply_waiting,
                    "sla_breached": item.sla_breached,
                    "units": list(item.units),
                }
                for item in page.items
            ],
            "next_cursor": page.next_cursor,
        }
    )


@bp.get("/stats")
@token_required
def stats():  # type: ignore[no-untyped-def]
    """Suppressed aggregate statistics of every unit, cut from the months' releases."""
    from zoneinfo import ZoneInfo

    from flask import Response

    from tipline.stats import periods
    from tipline.stats import request as stats_request
    from tipline.stats.export import check_may_export, export

    runtime = _runtime()
    args = request.args
    with transaction(runtime.sessions) as db:
        actor = actor_of(db, g.staff_session)
        check_may_export(actor)
        wanted = stats_request.parse(
            args.get("by", "zone,category"),
            args.get("period", "month"),
            args.get("from"),
            args.get("to"),
            args.get("format", "json"),
            last_month=periods.last_released_month(utcnow(), ZoneInfo(runtime.settings.timezone)),
        )
        text, media_type = export(db, runtime.config, runtime.settings, wanted, actor=actor.name)
    response = Response(text, mimetype=media_type.split(";")[0])
    if wanted.format == "csv":
        response.headers["Content-Disposition"] = 'attachment; filename="tipline-stats.csv"'
    return response


@bp.get("/tips/<reference>")
@token_required
def tip(reference: str):  # type: ignore[no-untyped-def]
    runtime = _runtime()
    with transaction(runtime.sessions) as db:
        actor_of(db, g.staff_session)
        opened, thread = read_tip(db, g.staff_session, reference.strip().upper())
    return jsonify(
        {
            "reference": opened.reference,
            "category": opened.category,
            "zone": opened.zone,
            "priority": opened.priority,
            "status": opened.status,
            "disposition": opened.disposition,
            "channel": opened.channel,
            "received_at": opened.received_at.isoformat(),
            "submitted_at": opened.submitted_at,
            "lang": opened.lang,
            "description": opened.description,
            "postal_code": opened.postal_code,
            "point": list(opened.point) if opened.point else None,
            "assignee_id": opened.assignee_id,
            "sla_breached": opened.sla_breached,
            # Whether an SMS tipster can still be texted: never how.
            "reachable_by_sms": opened.textable,
            "units": [{"unit": slug, "role": role} for slug, role in opened.units],
            "tags": list(opened.tags),
            "links": [{"kind": kind, "reference": ref} for kind, ref in opened.links],
            "notes": [
                {"author": author, "text": text, "written_at": at}
                for author, text, at in opened.notes
            ],
            "messages": [
                {"author": m.author, "text": m.text, "sent_at": m.sent_at} for m in thread.messages
            ],
            "attachments": [
                {
                    "item_key": f.item_key,
                    "name": f.name,
                    "media_type": f.media_type,
                    "size": f.size,
                    "url": f"/api/v1/tips/{opened.reference}/attachments/{f.item_key}",
                }
                for f in thread.files
            ],
            "reward": (
                {
                    "decision": thread.reward.decision,
                    "note": thread.reward.note,
                    "decided_at": thread.reward.decided_at,
                }
                if thread.reward
                else None
            ),
        }
    )


@bp.get("/tips/<reference>/attachments/<item_key>")
@token_required
def attachment(reference: str, item_key: str):  # type: ignore[no-untyped-def]
    runtime = _runtime()
    with transaction(runtime.sessions) as db:
        actor_of(db, g.staff_session)
        info, spool = read_attachment(
            db, g.staff_session, runtime.store, reference.strip().upper(), item_key
        )
    return download(info, spool)


@bp.post("/tips/<reference>/<action>")
@token_required
def act(reference: str, action: str):  # type: ignore[no-untyped-def]
    """Every change to a tip (claim, status, notes, …): the same actions as the pages."""
    runtime = _runtime()
    params = _json_object() if request.content_length else {}
    with transaction(runtime.sessions) as db:
        done = perform(db, runtime, g.staff_session, reference, action, params)
    enqueue_committed(runtime, done.work)
    return jsonify({"reference": done.reference, "outcome": done.outcome})
