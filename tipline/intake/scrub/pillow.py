"""Opening images with Pillow inside the scrub bounds, with Pillow's errors turned into ours."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image

from .errors import ScrubError
from .limits import check_pixels


@contextmanager
def open_image(data: bytes) -> Iterator[Image.Image]:
    try:
        with Image.open(io.BytesIO(data)) as image:
            check_pixels(*image.size)
            image.load()
            yield image
    except Image.DecompressionBombError as exc:
        raise ScrubError("The image is too large to process safely.") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ScrubError("The image is damaged and cannot be read.") from exc
