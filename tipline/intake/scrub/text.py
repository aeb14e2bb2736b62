"""Plain text: UTF-8 without NULs carries no hidden metadata, so it is kept as written."""

from __future__ import annotations

from .errors import UnsupportedType
from .result import Scrubbed

MEDIA_TYPE = "text/plain"
NAME = "plain text (UTF-8)"
EXTENSION = "txt"


def scrub(data: bytes) -> Scrubbed:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        from .registry import ACCEPTED  # the registry imports this module

        # Only the whole file tells: detection tolerates a character cut at the end of a head.
        raise UnsupportedType(ACCEPTED, detail="Text files must be UTF-8.") from exc
    return Scrubbed(MEDIA_TYPE, EXTENSION, data)
