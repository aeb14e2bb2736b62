"""The Flask application factory: one blueprint per audience, settings loaded once."""

from __future__ import annotations

import logging

import redis
from flask import Flask, Request, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, TooManyRequests
from werkzeug.middleware.proxy_fix import ProxyFix

from tipline.crypto.spool import encrypted_spool
from tipline.errors import InvalidInput, ServiceUnavailable, TiplineError
from tipline.i18n import _l, init_i18n
from tipline.intake.limits import limiter
from tipline.runtime import Runtime
from tipline.settings import Settings, load_settings

csrf = CSRFProtect()

SECURITY_HEADERS = {
    # No third-party anything; inline scripts and styles are not allowed either. The one
    # script is our own optional proof of work (static/pow.js); every page works without it.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=()",
}


# What a person sees for HTTP errors we do not map to a TiplineError (the API keeps
# Werkzeug's descriptions); 400 and 500 stand in for the other 4xx and 5xx.
HTTP_MESSAGES = {
    400: _l("Something in this request is not right. Please go back to the form and try again."),
    404: _l("This page does not exist. Check the address, or go back to the form."),
    405: _l("This address cannot be used that way. Please go back to the form."),
    500: _l("Something went wrong on our side. Nothing was saved: please try again later."),
}


# No body the API takes nests deeper than a few levels; this bounds every walk over one.
MAX_JSON_DEPTH = 32


def _json_depth(value: object) -> int:
    """How deeply ``value`` nests (a scalar is 0), walked without recursion; stops
    counting once past MAX_JSON_DEPTH."""
    deepest, stack = 0, [(value, 1)]
    while stack and deepest <= MAX_JSON_DEPTH:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in children)
    return deepest


class TiplineRequest(Request):
    """Uploads in flight are spooled to encrypted temporary files, never in clear;
    JSON nested past MAX_JSON_DEPTH is a 400, whether the parser gives up (a
    RecursionError, which ``silent`` does not catch) or not."""

    def _get_file_stream(  # type: ignore[override]
        self, total_content_length, content_type, filename=None, content_length=None
    ):
        return encrypted_spool()

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):  # type: ignore[no-untyped-def]
        try:
            data = super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            data = None
            too_deep = True
        else:
            too_deep = _json_depth(data) > MAX_JSON_DEPTH
        if too_deep:
            raise InvalidInput(
                _l(
                    "The JSON in this request nests too deeply (at most %(n)s levels).",
                    n=MAX_JSON_DEPTH,
                )
            )
        return data


# Blueprints whose forms carry a tipster's free text (sealed, never a text column) and
# answer bad input with the form again, text kept: they are not refused for a NUL.
TIPSTER_FORMS = frozenset({"intake", "followup", "sms"})


def _strings(multidict) -> list[str]:  # type: ignore[no-untyped-def]
    return [part for key, value in multidict.items(multi=True) for part in (key, value)]


def _json_strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_json_strings(k), *_json_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _json_strings(item)]
    return []


def quiet_request_logs() -> None:
    # werkzeug's request log line starts with the client address: never let it out.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    if runtime is None:
        runtime = Runtime(settings or load_settings())
    settings = runtime.settings
    quiet_request_logs()

    app = Flask(__name__)
    app.request_class = TiplineRequest
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_field_bytes,
        # The only tipster cookie: it holds the CSRF token, nothing about the tipster.
        SESSION_COOKIE_NAME="__Host-tipline_csrf" if settings.secure_cookies else "tipline_csrf",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the browser session
        WTF_CSRF_SSL_STRICT=False,  # strict Referer checks fail under Referrer-Policy: no-referrer
    )
    app.extensions["tipline"] = runtime
    init_i18n(app)
    csrf.init_app(app)
    app.config.update(
        RATELIMIT_STORAGE_URI="redis://",
        # Our own connection pool: the bundled Redis is a unix socket, production a URL.
        RATELIMIT_STORAGE_OPTIONS={
            "connection_pool": runtime.redis.connection_pool,
            "key_prefix": runtime.key("limits"),
        },
    )
    limiter.init_app(app)
    if settings.trusted_proxies:
        # Only so the rate limiter counts per client rather than per proxy.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]

    from tipline.followup.web import bp as followup_bp
    from tipline.health import bp as health_bp
    from tipline.intake.web import bp as intake_bp
    from tipline.sms.webhook import bp as sms_bp
    from tipline.staff.api import bp as api_bp
    from tipline.staff.dashboard import bp as dashboard_bp
    from tipline.staff.manage import bp as manage_bp
    from tipline.staff.views import bp as staff_bp
    from tipline.stats.public import bp as public_bp

    app.register_blueprint(intake_bp)
    app.register_blueprint(followup_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(manage_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(public_bp)
    # Twilio cannot send a CSRF token: its requests are authenticated by signature instead.
    csrf.exempt(sms_bp)
    app.register_blueprint(sms_bp)
    # The API authenticates with a bearer token in a header, never a cookie: a forged
    # cross-site request cannot carry it, so there is nothing for CSRF to protect.
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)

    @app.before_request
    def _refuse_nul() -> None:
        # PostgreSQL text cannot hold U+0000 and no field has a use for it: a reference,
        # an email or a filter carrying one was a database error (500) on every lookup.
        # The tipster's free text is sealed, never a text column: their forms keep it.
        fields: list[str] = [request.path, *_strings(request.args)]
        if request.blueprint not in TIPSTER_FORMS:
            fields += _strings(request.form)
            if request.is_json:
                fields += _json_strings(request.get_json(silent=True))
        if any("\x00" in value for value in fields):
            raise InvalidInput(_l("The request contains a character that cannot be used (U+0000)."))

    @app.after_request
    def _security_headers(response):  # type: ignore[no-untyped-def]
        for name, value in SECURITY_HEADERS.items():
            # Set, not setdefault: send_file would otherwise leave a cacheable response.
            response.headers[name] = value
        if runtime_of(app).settings.public_url.startswith("https://"):
            # Served over https: browsers must never try plain http again (where a network
            # observer would see which pages a tipster opens).
            response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        return response

    def _wants_json() -> bool:
        return request.path.startswith(("/api/", "/healthz"))

    def _render_error(status: int, code: str, message: object, field: str | None = None):  # type: ignore[no-untyped-def]
        # Messages may be lazy (_l): str() translates them now, in this request's language.
        message = str(message)
        if _wants_json():
            return jsonify({"error": {"code": code, "message": message}}), status
        return render_template("error.html", status=status, message=message, field=field), status

    @app.errorhandler(TiplineError)
    def _tipline_error(exc: TiplineError):  # type: ignore[no-untyped-def]
        return _render_error(exc.status, exc.code, exc.message, exc.field)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc):  # type: ignore[no-untyped-def]
        return _render_error(
            413,
            "too_large",
            _l(
                "What you sent is too large. Please shorten the text or send fewer or smaller files."
            ),
        )

    @app.errorhandler(CSRFError)
    def _csrf(_exc):  # type: ignore[no-untyped-def]
        return _render_error(
            400,
            "form_expired",
            _l("This form expired. Please go back, reload the page and send again."),
        )

    @app.errorhandler(OperationalError)
    def _database_down(_exc):  # type: ignore[no-untyped-def]
        app.logger.error("database unavailable")
        error = ServiceUnavailable(
            _l(
                "We cannot take this right now. Nothing was saved: please try again in a few minutes."
            )
        )
        return _render_error(error.status, error.code, error.message)

    @app.errorhandler(redis.RedisError)
    def _redis_down(_exc):  # type: ignore[no-untyped-def]
        app.logger.error("redis unavailable")
        return _render_error(
            503,
            "unavailable",
            _l("This service is busy or down. Please try again in a few minutes."),
        )

    @app.errorhandler(TooManyRequests)
    def _too_many(_exc):  # type: ignore[no-untyped-def]
        message = _l(
            "Too many tips were sent from this connection. Please wait an hour and send again."
        )
        if request.endpoint == "intake.submit_tip":
            from tipline.intake.web import form_again

            return form_again(429, TiplineError(message), request.form)
        return _render_error(429, "rate_limited", message)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):  # type: ignore[no-untyped-def]
        status = exc.code or 500
        if _wants_json():
            body, status = _render_error(status, "http_error", exc.description or "Error")
        else:
            # Werkzeug's descriptions are English and technical: people get plain words.
            message = HTTP_MESSAGES.get(status) or HTTP_MESSAGES[500 if status >= 500 else 400]
            body, status = _render_error(status, "http_error", message)
        # Keep the headers the error carries: a 405 must say what is allowed (Allow).
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return body, status, headers

    return app


def runtime_of(app: Flask) -> Runtime:
    return app.extensions["tipline"]
