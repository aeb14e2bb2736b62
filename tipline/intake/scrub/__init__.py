"""Scrub: remove identifying metadata from attachments before they are sealed.

One registry keyed by the media type detected from the file's content (never its name or
the client's MIME type); one module per format family. See DESIGN.md, Data flow step 2.
"""

from .detect import detect
from .errors import ScrubError, UnsupportedType
from .registry import ACCEPTED, SCRUBBERS, scrub
from .result import Scrubbed

__all__ = ["ACCEPTED", "SCRUBBERS", "ScrubError", "Scrubbed", "UnsupportedType", "detect", "scrub"]
