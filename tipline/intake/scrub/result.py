"""What a scrubber hands back: cleaned bytes and the type they now are."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scrubbed:
    media_type: str  # e.g. "image/jpeg" (HEIC comes back as JPEG)
    extension: str  # e.g. "jpg", for the sanitized file name
    data: bytes
