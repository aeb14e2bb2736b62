"""The two ways scrubbing refuses a file; both are user-visible (mapped to HTTP in app.py)."""

from __future__ import annotations

from tipline.errors import TiplineError


class UnsupportedType(TiplineError):
    """The file is not of a type we know how to clean, so we never store it."""

    status = 415
    code = "unsupported_type"

    def __init__(self, accepted: tuple[str, ...], *, detail: str | None = None) -> None:
        self.accepted = accepted
        lead = detail or "This type of file is not accepted."
        super().__init__(f"{lead} Accepted types: {', '.join(accepted)}.", field="attachments")


class ScrubError(TiplineError):
    """A file of a supported type that cannot be cleaned safely (damaged, encrypted, too big)."""

    status = 422
    code = "scrub_failed"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="attachments")
