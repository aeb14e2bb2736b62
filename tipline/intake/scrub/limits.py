"""Bounds on the work one upload may cause: decompression bombs are refused, not decoded."""

from __future__ import annotations

from PIL import Image

from tipline.i18n import _l

from .errors import ScrubError

MAX_PIXELS = 50_000_000
MAX_JPEG_SCANS = 100  # progressive JPEGs have about 10; each one is a pass over the picture
# Office packages (zip): parts, total size once uncompressed for the whole upload (embedded
# documents included), how much one part may expand (as Apache POI: 100 times, for parts
# over 1 MB; real XML compresses 5-30 times), and how deep documents may embed documents.
MAX_ZIP_ENTRIES = 1000
MAX_ZIP_UNCOMPRESSED = 100 * 1024 * 1024
MAX_ZIP_RATIO = 100
ZIP_RATIO_GRACE = 1024 * 1024
MAX_ZIP_DEPTH = 2
# PDFs: a 500-page scanned report has about 2,000 objects, a dense map or drawing
# 50,000-100,000; cleaning 200,000 objects takes about a second.
MAX_PDF_PAGES = 2000
MAX_PDF_OBJECTS = 200_000
# qpdf (PDF) and libheif (HEIC) run in a child process (sandbox.py) with this much memory
# over the parent's and this much time: a 50-megapixel HEIC decodes in about 600 MB.
SANDBOX_MEMORY_BYTES = 1024 * 1024 * 1024
SANDBOX_CPU_SECONDS = 10
SANDBOX_WALL_SECONDS = 15.0

# Pillow warns above MAX_IMAGE_PIXELS and raises DecompressionBombError above twice it.
# Our own scrubbers check dimensions from the headers (check_pixels) before any decoding, so
# Pillow's limit is the backstop for the paths that go through Pillow (orientation, HEIF).
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def check_pixels(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ScrubError(_l("The image is damaged: it has no width or height."))
    if width * height > MAX_PIXELS:
        raise ScrubError(
            _l(
                "The image is too large (%(width)s×%(height)s pixels; the limit is "
                "%(limit)s megapixels). Please send a smaller version.",
                width=width,
                height=height,
                limit=MAX_PIXELS // 1_000_000,
            )
        )
