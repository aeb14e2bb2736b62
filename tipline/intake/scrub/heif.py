"""HEIC/HEIF (iPhone photos): decode the primary image and re-encode as a clean JPEG.

HEIF keeps EXIF/XMP in item boxes we would have to rewrite with their offsets; converting
is simpler to get right, and investigators can open JPEG everywhere.
"""

from __future__ import annotations

import pillow_heif
from PIL import ImageOps

from . import jpeg
from .errors import ScrubError
from .pillow import open_image
from .result import Scrubbed

MEDIA_TYPES = ("image/heic", "image/heif")
NAME = "HEIC/HEIF photo"

pillow_heif.register_heif_opener()


def scrub(data: bytes) -> Scrubbed:
    with open_image(data) as image:
        icc = image.info.get("icc_profile")
        try:
            # libheif already applies the container's rotation; this covers EXIF orientation.
            upright = ImageOps.exif_transpose(image)
        except (OSError, ValueError, SyntaxError) as exc:
            raise ScrubError("The HEIC/HEIF photo is damaged.") from exc
        encoded = jpeg.encode(upright.convert("RGB"), icc=icc)
    return Scrubbed(jpeg.MEDIA_TYPE, jpeg.EXTENSION, jpeg.strip(encoded))
