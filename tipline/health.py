from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    runtime = current_app.extensions["tipline"]
    parts: dict[str, str] = {}
    try:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        parts["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        parts["database"] = f"down ({type(exc).__name__})"
    try:
        runtime.redis.ping()
        parts["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        parts["redis"] = f"down ({type(exc).__name__})"
    healthy = all(value == "ok" for value in parts.values())
    return jsonify(parts), 200 if healthy else 503
