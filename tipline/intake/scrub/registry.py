"""The one scrubber registry: detected media type -> the function that cleans it."""

from __future__ import annotations

from collections.abc import Callable

from tipline.i18n import _l

from . import heif, jpeg, office, pdf, png, text, webp
from .detect import detect
from .errors import ScrubError, UnsupportedType
from .result import Scrubbed

Scrubber = Callable[[bytes], Scrubbed]

SCRUBBERS: dict[str, Scrubber] = {
    jpeg.MEDIA_TYPE: jpeg.scrub,
    png.MEDIA_TYPE: png.scrub,
    webp.MEDIA_TYPE: webp.scrub,
    **dict.fromkeys(heif.MEDIA_TYPES, heif.scrub),
    pdf.MEDIA_TYPE: pdf.scrub,
    **dict.fromkeys(office.MEDIA_TYPES, office.scrub),
    text.MEDIA_TYPE: text.scrub,
}

ACCEPTED: tuple[str, ...] = (
    jpeg.NAME,
    png.NAME,
    webp.NAME,
    heif.NAME,
    pdf.NAME,
    *office.NAMES.values(),
    text.NAME,
)


def scrub(data: bytes) -> Scrubbed:
    """Clean an uploaded file, chosen by its content. Nothing unscrubbed ever leaves here."""
    if not data:
        raise ScrubError(_l("The file is empty."))
    media_type = detect(data)
    scrubber = SCRUBBERS.get(media_type or "")
    if scrubber is None:
        if media_type is None and text.in_another_encoding(data):
            raise UnsupportedType(ACCEPTED, detail=text.NOT_UTF8)
        raise UnsupportedType(ACCEPTED)
    try:
        return scrubber(data)
    except (ScrubError, UnsupportedType):
        raise
    except Exception as exc:  # a parser bug must refuse the file, never store it or answer 500
        raise ScrubError(
            _l("The file could not be cleaned safely. Please check it opens and send it again.")
        ) from exc
