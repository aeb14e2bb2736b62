"""Opening images with Pillow inside the scrub bounds, with Pillow's errors turned into ours."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image

from tipline.i18n import _l

from .errors import ScrubError
from .limits import check_pixels

_DAMAGED = _l("The image is damaged and cannot be read.")
_TOO_LARGE = _l("The image is too large to process safely. Please send a smaller version.")


@contextmanager
def open_image(data: bytes) -> Iterator[Image.Image]:
    try:
        with Image.open(io.BytesIO(data)) as image:
            check_pixels(*image.size)
            image.load()
            yield image
    except Image.DecompressionBombError as exc:
        raise ScrubError(_TOO_LARGE) from exc
    except RuntimeError as exc:  # libheif (pillow_heif): its security limits, damaged boxes
        if "limit" in str(exc).lower():
            raise ScrubError(_TOO_LARGE) from exc
        raise ScrubError(_DAMAGED) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ScrubError(_DAMAGED) from exc
