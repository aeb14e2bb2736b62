"""Bounds on the work one upload may cause: decompression bombs are refused, not decoded."""

from __future__ import annotations

from PIL import Image

from .errors import ScrubError

MAX_PIXELS = 50_000_000
MAX_ZIP_ENTRIES = 1000
MAX_ZIP_UNCOMPRESSED = 100 * 1024 * 1024

# Pillow warns above MAX_IMAGE_PIXELS and raises DecompressionBombError above twice it.
# Our own scrubbers check dimensions from the headers (check_pixels) before any decoding, so
# Pillow's limit is the backstop for the paths that go through Pillow (orientation, HEIF).
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def check_pixels(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ScrubError("The image is damaged: it has no width or height.")
    if width * height > MAX_PIXELS:
        raise ScrubError(
            f"The image is too large ({width}×{height} pixels; the limit is "
            f"{MAX_PIXELS // 1_000_000} megapixels)."
        )
