"""The two ways scrubbing refuses a file; both are user-visible (mapped to HTTP in app.py)."""

from __future__ import annotations

from collections.abc import Sequence

from tipline.errors import TiplineError
from tipline.i18n import _l


class _TypeNames:
    """The accepted types as one list, joined when shown (each name is translated then)."""

    def __init__(self, names: Sequence[object]) -> None:
        self.names = names

    def __str__(self) -> str:
        return ", ".join(str(name) for name in self.names)


class UnsupportedType(TiplineError):
    """The file is not of a type we know how to clean, so we never store it."""

    status = 415
    code = "unsupported_type"

    def __init__(self, accepted: tuple[object, ...], *, detail: object | None = None) -> None:
        self.accepted = accepted
        lead = detail or _l("This type of file is not accepted.")
        message = _l(
            "%(problem)s Accepted types: %(types)s.", problem=lead, types=_TypeNames(accepted)
        )
        super().__init__(message, field="attachments")  # type: ignore[arg-type]


class ScrubError(TiplineError):
    """A file of a supported type that cannot be cleaned safely (damaged, encrypted, too big)."""

    status = 422
    code = "scrub_failed"

    def __init__(self, message: object) -> None:
        super().__init__(message, field="attachments")  # type: ignore[arg-type]
