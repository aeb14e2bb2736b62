"""The OpenAPI 3 description of /api/v1, served at /api/v1/openapi.json.

Written by hand next to the routes it describes (staff/api.py, staff/actions.py) and
checked against the app's URL map by tests/staff/test_api.py, so neither drifts.
"""

from __future__ import annotations

from typing import Any

from tipline.followup.thread import REWARD_DECISIONS
from tipline.stats.catalogue import KEYS as STATS_KEYS
from tipline.stats.catalogue import PERIODS
from tipline.stats.request import FORMATS
from tipline.triage.config import PRIORITIES
from tipline.triage.queue import ASSIGNEE_FILTERS, MAX_PAGE, SORTS
from tipline.triage.workflow import DISPOSITIONS, LINK_KINDS, STATUSES

_ERROR = {"$ref": "#/components/schemas/Error"}
_REFERENCE = {
    "name": "reference",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9A-Za-z]{1,16}$"},
}


def _errors(*codes: int) -> dict[str, Any]:
    words = {
        400: "Bad input",
        401: "No valid bearer token",
        403: "The role does not allow it",
        404: "Unknown, or not in your units",
        409: "The tip moved on meanwhile",
        413: "Too large",
        503: "A dependency is down",
    }
    return {
        str(code): {
            "description": words[code],
            "content": {"application/json": {"schema": _ERROR}},
        }
        for code in codes
    }


def _action(summary: str, body: dict[str, Any] | None, *codes: int) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "security": [{"bearer": []}],
        "parameters": [_REFERENCE],
        "responses": {
            "200": {
                "description": "Done",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Done"}}},
            },
            **_errors(400, 401, 404, *codes),
        },
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return {"post": operation}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


def _string(**extra: Any) -> dict[str, Any]:
    return {"type": "string", **extra}


# No request field may carry U+0000 (tipline.app refuses it with a 400: PostgreSQL text
# cannot hold it). Free request strings say so; responses may carry it (a tipster's text).
_NO_NUL = "^[^\x00]*$"


def _input(**extra: Any) -> dict[str, Any]:
    """A free-text request string."""
    return _string(pattern=_NO_NUL, **extra)


def _comma_list(values: tuple[str, ...]) -> str:
    """A pattern for an empty value or a comma-separated list of ``values``."""
    one = "(" + "|".join(values) + ")"
    return f"^({one}(,{one})*)?$"


def document() -> dict[str, Any]:
    queue_params = [
        {"name": "unit", "in": "query", "schema": _input(maxLength=64)},
        {
            "name": "status",
            "in": "query",
            "description": "Comma-separated; default: the open statuses",
            "schema": _string(pattern=_comma_list(STATUSES)),
        },
        {
            "name": "priority",
            "in": "query",
            "description": "Comma-separated",
            "schema": _string(pattern=_comma_list(PRIORITIES)),
        },
        {"name": "category", "in": "query", "schema": _input(maxLength=64)},
        {"name": "zone", "in": "query", "schema": _input(maxLength=64)},
        {"name": "assignee", "in": "query", "schema": _string(enum=list(ASSIGNEE_FILTERS))},
        {"name": "older_than_hours", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {
            "name": "tag",
            "in": "query",
            "description": "Tips with this tag; empty is no filter (as the queue page's form sends it).",
            "schema": _string(pattern="^([a-z0-9][a-z0-9-]{0,31})?$"),
        },
        {"name": "breached", "in": "query", "schema": _string(enum=["true", "false"])},
        {"name": "sort", "in": "query", "schema": _string(enum=list(SORTS))},
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
        },
        {"name": "cursor", "in": "query", "schema": _input()},
    ]
    nullable_string = {"type": "string", "nullable": True}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Tipline staff API",
            "version": "1",
            "description": (
                "Investigators' queue and tips. A tip of a unit you do not belong to is "
                "404, exactly like a tip that does not exist. Errors are "
                '{"error": {"code": …, "message": …}}.'
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": _object(
                    ["error"],
                    error=_object(["code", "message"], code=_string(), message=_string()),
                ),
                "Done": _object(["reference", "outcome"], reference=_string(), outcome=_string()),
                "QueueItem": {
                    "type": "object",
                    "properties": {
                        "reference": _string(),
                        "category": _string(),
                        "zone": nullable_string,
                        "priority": _string(enum=list(PRIORITIES)),
                        "status": _string(enum=list(STATUSES)),
                        "received_at": _string(format="date-time"),
                        "channel": _string(enum=["web", "sms"]),
                        "assignee_id": {"type": "integer", "nullable": True},
                        "reply_waiting": {"type": "boolean"},
                        "sla_breached": {"type": "boolean"},
                        "units": {"type": "array", "items": _string()},
                    },
                },
                "Tip": {
                    "type": "object",
                    "properties": {
                        "reference": _string(),
                        "category": _string(),
                        "zone": nullable_string,
                        "priority": _string(),
                        "status": _string(enum=list(STATUSES)),
                        "disposition": nullable_string,
                        "channel": _string(),
                        "description": _string(),
                        "assignee_id": {"type": "integer", "nullable": True},
                        "reachable_by_sms": {"type": "boolean"},
                        "tags": {"type": "array", "items": _string()},
                        "messages": {"type": "array", "items": {"type": "object"}},
                        "attachments": {"type": "array", "items": {"type": "object"}},
                        "notes": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
        "paths": {
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3 document"}},
                }
            },
            "/auth/token": {
                "post": {
                    "summary": "Sign in (password and TOTP code) for a bearer token",
                    "security": [],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": _object(
                                    ["email", "password", "totp"],
                                    email=_input(minLength=1),
                                    password=_input(minLength=1),
                                    totp=_input(minLength=1),
                                )
                            }
                        },
                    },
                    "responses": {
                        "201": {"description": "A token (ends after the session idle time)"},
                        **_errors(400, 401),
                    },
                },
                "delete": {
                    "summary": "Revoke this token",
                    "security": [{"bearer": []}],
                    "responses": {"204": {"description": "Revoked"}, **_errors(401)},
                },
            },
            "/queue": {
                "get": {
                    "summary": "Tips in your units' queues, one page (keyset pagination)",
                    "security": [{"bearer": []}],
                    "parameters": queue_params,
                    "responses": {
                        "200": {
                            "description": "A page",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "items": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/QueueItem"},
                                            },
                                            "next_cursor": nullable_string,
                                        },
                                    }
                                }
                            },
                        },
                        **_errors(400, 401),
                    },
                }
            },
            "/stats": {
                "get": {
                    "summary": "Suppressed aggregate statistics of every unit, cut from the "
                    "months' releases (supervisors and admins)",
                    "description": "Whole periods of months that have ended. By month: "
                    "the totals, one key, or zone × category, province × category, category "
                    "× disposition, province × disposition, status × disposition; by week: "
                    "category or province; by day: province. A window that is not whole "
                    "periods, or reaches past the last month released, is a 400 naming the "
                    "nearest valid bounds.",
                    "security": [{"bearer": []}],
                    "parameters": [
                        {
                            "name": "by",
                            "in": "query",
                            "description": "Comma-separated: period, " + ", ".join(STATS_KEYS),
                            "schema": _input(),
                        },
                        {"name": "period", "in": "query", "schema": _string(enum=list(PERIODS))},
                        {"name": "from", "in": "query", "schema": _string(format="date")},
                        {"name": "to", "in": "query", "schema": _string(format="date")},
                        {"name": "format", "in": "query", "schema": _string(enum=list(FORMATS))},
                    ],
                    "responses": {
                        "200": {"description": "The export, with its method and parameters"},
                        **_errors(400, 401, 403, 503),
                    },
                }
            },
            "/tips/{reference}": {
                "get": {
                    "summary": "One tip, opened (its reading is audited)",
                    "security": [{"bearer": []}],
                    "parameters": [_REFERENCE],
                    "responses": {
                        "200": {
                            "description": "The tip",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Tip"}}
                            },
                        },
                        **_errors(401, 404),
                    },
                }
            },
            "/tips/{reference}/attachments/{item_key}": {
                "get": {
                    "summary": "An attachment, decrypted (always a download)",
                    "security": [{"bearer": []}],
                    "parameters": [
                        _REFERENCE,
                        {
                            "name": "item_key",
                            "in": "path",
                            "required": True,
                            "schema": _string(pattern="^[0-9a-f]{32}$"),
                        },
                    ],
                    "responses": {"200": {"description": "The file"}, **_errors(401, 404)},
                }
            },
            "/tips/{reference}/claim": _action("Claim an unassigned open tip", None, 409),
            "/tips/{reference}/release": _action("Give a claimed tip back", None, 403, 409),
            "/tips/{reference}/assign": _action(
                "Assign to a member of the tip's units (supervisors)",
                _object(["assignee_id"], assignee_id={"type": "integer", "nullable": True}),
                403,
                409,
            ),
            "/tips/{reference}/status": _action(
                "Move the tip to another status (closing needs a disposition)",
                _object(
                    ["status"],
                    status=_string(enum=[s for s in STATUSES if s != "referred"]),
                    disposition=_string(enum=list(DISPOSITIONS)),
                    expected=_string(enum=list(STATUSES)),
                ),
                403,
                409,
            ),
            "/tips/{reference}/notes": _action(
                "Add a staff note (sealed)", _object(["note"], note=_input(minLength=1)), 413
            ),
            "/tips/{reference}/tags": _action(
                "Replace the tip's tags",
                _object(
                    ["tags"],
                    tags={
                        "type": "array",
                        "maxItems": 20,
                        "items": _string(pattern="^[a-z0-9][a-z0-9-]{0,31}$"),
                    },
                ),
            ),
            "/tips/{reference}/links": _action(
                "Link to another tip of your units",
                _object(
                    ["reference"],
                    reference=_input(minLength=1),
                    kind=_string(enum=list(LINK_KINDS)),
                ),
            ),
            "/tips/{reference}/refer": _action(
                "Refer to another unit (it becomes the primary unit)",
                _object(["unit"], unit=_input(minLength=1)),
                409,
            ),
            "/tips/{reference}/messages": _action(
                "Ask the tipster (web follow-up, or a text for an SMS tip)",
                _object(["message"], message=_input(minLength=1)),
                413,
            ),
            "/tips/{reference}/reward": _action(
                "Record a reward decision (supervisors)",
                _object(["decision"], decision=_string(enum=list(REWARD_DECISIONS)), note=_input()),
                403,
            ),
        },
    }
