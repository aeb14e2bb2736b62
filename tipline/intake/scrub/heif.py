"""HEIC/HEIF (iPhone photos): decode the primary image and re-encode as a clean JPEG.

HEIF keeps EXIF/XMP in item boxes we would have to rewrite with their offsets; converting
is simpler to get right, and investigators can open JPEG everywhere.

Orientation: libheif applies the container's rotation and mirroring (irot/imir) while
decoding, and pillow_heif then resets the EXIF orientation to 1, so the decoded picture is
already upright. Nothing here parses the tipster's EXIF.

libheif decodes in a child process (sandbox.py): the size Pillow reports comes from the
file's boxes, and libheif only finds out that the picture inside is larger after decoding
it, so the pixel limit alone does not bound the memory a hostile file can make it use.
"""

from __future__ import annotations

import pillow_heif

from tipline.i18n import _l

from . import jpeg, sandbox
from .errors import ScrubError
from .limits import SANDBOX_CPU_SECONDS, SANDBOX_MEMORY_BYTES, SANDBOX_WALL_SECONDS
from .pillow import open_image
from .result import Scrubbed

MEDIA_TYPES = ("image/heic", "image/heif")
NAME = _l("HEIC/HEIF photo")

pillow_heif.register_heif_opener()


def scrub(data: bytes) -> Scrubbed:
    try:
        encoded = sandbox.run_bounded(
            _as_jpeg,
            data,
            memory=SANDBOX_MEMORY_BYTES,
            cpu_seconds=SANDBOX_CPU_SECONDS,
            wall_seconds=SANDBOX_WALL_SECONDS,
        )
    except sandbox.Exhausted as exc:
        raise ScrubError(
            _l(
                "The HEIC/HEIF photo is too large or too complex to convert safely. "
                "Please send it as a JPEG image."
            )
        ) from exc
    return Scrubbed(jpeg.MEDIA_TYPE, jpeg.EXTENSION, jpeg.strip(encoded))


def _as_jpeg(data: bytes) -> bytes:
    with open_image(data) as image:
        icc = image.info.get("icc_profile")
        return jpeg.encode(image.convert("RGB"), icc=icc)
