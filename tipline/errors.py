"""User-visible failures, one type each, mapped to HTTP status in one place (app.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from flask_babel.speaklater import LazyString

    Message: TypeAlias = str | LazyString


class TiplineError(Exception):
    """``message`` is usually lazy (``_l``): it is translated when shown, with ``str()``,
    in the language of the request showing it (English outside a request).
    ``field`` names the form field at fault, so the page can point at it."""

    status = 400
    code = "bad_request"

    def __init__(self, message: Message, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return str(self.message)


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


class Forbidden(TiplineError):
    # Signed in, but the role does not allow it (never used to hide a tip: that is NotFound).
    status = 403
    code = "forbidden"


class Conflict(TiplineError):
    # The tip moved on since the person looked (closed already, claimed by someone else).
    status = 409
    code = "conflict"


class ServiceUnavailable(TiplineError):
    status = 503
    code = "unavailable"
