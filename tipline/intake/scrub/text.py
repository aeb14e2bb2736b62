"""Plain text: UTF-8 without NULs carries no hidden metadata, so it is kept as written."""

from __future__ import annotations

from tipline.i18n import _l

from .detect import detect
from .errors import ScrubError, UnsupportedType
from .result import Scrubbed

MEDIA_TYPE = "text/plain"
NAME = _l("plain text (UTF-8)")
EXTENSION = "txt"
NOT_UTF8 = _l(
    "Text files must be UTF-8 (the file has bytes that are not UTF-8 text). "
    "Please save it as UTF-8 and send it again."
)
# Control characters that do not occur in text (tab, line feed, form feed, carriage
# return and escape-free text aside): a few of them mean a binary file, not a text file.
_CONTROL = bytes(range(0x20)).translate(None, b"\t\n\x0c\r") + b"\x7f"


def scrub(data: bytes) -> Scrubbed:
    from .registry import ACCEPTED  # the registry imports this module

    if not data:
        raise ScrubError(_l("The file is empty."))
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Only the whole file tells: detection tolerates a character cut at the end of a head.
        raise UnsupportedType(ACCEPTED, detail=NOT_UTF8) from exc
    # Checked here too, not only by the registry: NULs mark a binary file, and text that
    # starts like RTF, SVG or PostScript carries metadata of its own.
    if detect(data) != MEDIA_TYPE:
        raise UnsupportedType(ACCEPTED)
    return Scrubbed(MEDIA_TYPE, EXTENSION, data)


def in_another_encoding(data: bytes) -> bool:
    """Text saved as Windows-1252/Latin-1 or UTF-16 (Notepad's "Unicode"), which deserves
    "save it as UTF-8" rather than "this type is not accepted"."""
    sample = data[:8192]
    if sample[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with its byte order mark
        codec = "utf-16-le" if sample[:2] == b"\xff\xfe" else "utf-16-be"
        sample = sample[2 : len(sample) & ~1].decode(codec, errors="replace").encode()
    elif not sample or b"\x00" in sample or max(sample) < 0x80:
        return False  # binary, or plain ASCII (which is UTF-8 already)
    controls = sum(sample.count(c) for c in _CONTROL)
    return bool(sample) and controls * 100 <= len(sample)
