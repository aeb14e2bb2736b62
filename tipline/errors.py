"""User-visible failures, one type each, mapped to HTTP status in one place (app.py)."""

from __future__ import annotations


class TiplineError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(TiplineError):
    status = 400
    code = "invalid_input"


class TooLarge(TiplineError):
    status = 413
    code = "too_large"


class NotFound(TiplineError):
    # Also used for "not yours": never reveal that another unit's tip exists.
    status = 404
    code = "not_found"


class Unauthorized(TiplineError):
    status = 401
    code = "unauthorized"


class ServiceUnavailable(TiplineError):
    status = 503
    code = "unavailable"
