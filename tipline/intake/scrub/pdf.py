"""PDF: remove document information, XMP, IDs, attachments, scripts and editor private data.

Saving with pikepdf (qpdf) writes only objects reachable from the new trailer, so earlier
revisions kept by incremental saves (with their old Info and XMP) are dropped too.
"""

from __future__ import annotations

import io
import zlib

import pikepdf
from pikepdf import Dictionary, Name, Stream

from tipline.i18n import _l

from . import icc, jpeg, sandbox
from .errors import ScrubError
from .limits import (
    MAX_PDF_OBJECTS,
    MAX_PDF_PAGES,
    SANDBOX_CPU_SECONDS,
    SANDBOX_MEMORY_BYTES,
    SANDBOX_WALL_SECONDS,
)
from .result import Scrubbed

MEDIA_TYPE = "application/pdf"
NAME = _l("PDF document")
EXTENSION = "pdf"

_DAMAGED = _l("The PDF document is damaged and cannot be read. Please send it again.")
_ENCRYPTED = _l(
    "Encrypted PDF documents cannot be cleaned. Please remove the password and send it again."
)

_CATALOG_KEYS = (
    "/Metadata",  # XMP: author, tool, dates, document IDs
    "/OpenAction",
    "/AA",
    "/PieceInfo",  # editor private data (Illustrator/Acrobat)
    "/Threads",  # article thread info dictionaries carry Author
    "/Collection",  # portfolio of attached files
    "/AF",  # PDF 2.0 associated files
    "/SpiderInfo",  # web capture: source URLs
    "/Perms",
)
_NAME_TREES = ("/EmbeddedFiles", "/JavaScript")
_OBJECT_KEYS = ("/Metadata", "/PieceInfo", "/AA", "/AF", "/LastModified")
_DANGEROUS_ACTIONS = {
    "/JavaScript",
    "/Launch",
    "/SubmitForm",
    "/ImportData",
    "/GoToE",
    "/Rendition",
}
# On markup annotations (comments, highlights) /T is the author's name; on widgets it is
# the form field name, which the form needs.
_UNAUTHORED = {"/Widget", "/Link"}


def scrub(data: bytes) -> Scrubbed:
    try:
        cleaned = sandbox.run_bounded(
            _cleaned,
            data,
            memory=SANDBOX_MEMORY_BYTES,
            cpu_seconds=SANDBOX_CPU_SECONDS,
            wall_seconds=SANDBOX_WALL_SECONDS,
        )
    except sandbox.Exhausted as exc:
        raise ScrubError(
            _l(
                "The PDF document is too large or too complex to clean safely. "
                "Please print it to a new PDF, or send only the pages that matter."
            )
        ) from exc
    return Scrubbed(MEDIA_TYPE, EXTENSION, cleaned)


def _cleaned(data: bytes) -> bytes:
    """Open, check the caps, clean and save (in the sandbox: qpdf parses hostile input)."""
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError as exc:
        raise ScrubError(_ENCRYPTED) from exc
    except (pikepdf.PdfError, RuntimeError, ValueError, OSError) as exc:
        raise ScrubError(_DAMAGED) from exc
    with pdf:
        if pdf.is_encrypted:
            raise ScrubError(_ENCRYPTED)
        try:
            _check_caps(pdf)
            _clean(pdf)
            out = io.BytesIO()
            # No /ID in the trailer: qpdf writes a fresh one instead of keeping the original's.
            # Streams are copied as they are (decode level none): a compressed stream is
            # never inflated here, so a stream bomb costs nothing.
            pdf.save(
                out,
                fix_metadata_version=False,
                stream_decode_level=pikepdf.StreamDecodeLevel.none,
            )
        except (pikepdf.PdfError, RuntimeError) as exc:
            raise ScrubError(_l("The PDF document is damaged and cannot be cleaned.")) from exc
    return out.getvalue()


def _check_caps(pdf: pikepdf.Pdf) -> None:
    pages = len(pdf.pages)
    if pages > MAX_PDF_PAGES:
        raise ScrubError(
            _l(
                "The PDF document has too many pages (%(count)s; the limit is %(limit)s). "
                "Please send only the pages that matter.",
                count=pages,
                limit=MAX_PDF_PAGES,
            )
        )
    if len(pdf.objects) > MAX_PDF_OBJECTS:
        raise ScrubError(
            _l(
                "The PDF document is too complex to clean safely (more than %(limit)s "
                "objects). Please print it to a new PDF, or send only the pages that matter.",
                limit=MAX_PDF_OBJECTS,
            )
        )


def _clean(pdf: pikepdf.Pdf) -> None:
    for key in ("/Info", "/ID"):
        if key in pdf.trailer:
            del pdf.trailer[key]
    root = pdf.Root
    for key in _CATALOG_KEYS:
        if key in root:
            del root[key]
    names = root.get("/Names")
    if isinstance(names, Dictionary):
        for key in _NAME_TREES:
            if key in names:
                del names[key]
    for page in pdf.pages:
        _clean_annotations(page.obj)
    for obj in pdf.objects:
        if isinstance(obj, Dictionary | Stream):
            _clean_object(obj)


def _clean_annotations(page: Dictionary) -> None:
    annots = page.get("/Annots")
    if not isinstance(annots, pikepdf.Array):
        return
    kept = pikepdf.Array()
    for annot in annots:
        if not isinstance(annot, Dictionary) or annot.get("/Subtype") == Name.FileAttachment:
            continue
        if annot.get("/Subtype") not in _UNAUTHORED:
            for key in ("/T", "/M", "/CreationDate"):
                if key in annot:
                    del annot[key]
        kept.append(annot)
    page.Annots = kept


def _clean_object(obj: Dictionary | Stream) -> None:
    for key in _OBJECT_KEYS:
        if key in obj:
            del obj[key]
    if "/EF" in obj:  # a file specification with the embedded file itself
        del obj["/EF"]
    action = obj.get("/A")
    if isinstance(action, Dictionary) and str(action.get("/S")) in _DANGEROUS_ACTIONS:
        del obj["/A"]
    if obj.get("/FT") == Name.Sig and "/V" in obj:
        del obj["/V"]  # a signature holds the signer's certificate (name, e-mail)
    if isinstance(obj, Stream) and obj.get("/Subtype") == Name.Image:
        _clean_photo(obj)
    elif isinstance(obj, Stream) and "/N" in obj and "/Subtype" not in obj and "/Type" not in obj:
        _clean_profile(obj)  # an ICCBased colour space or an output intent's profile


def _clean_profile(stream: Stream) -> None:
    """Colour profiles name the device or software that made them (see icc.py).

    A profile we cannot read is left for the viewer to fall back from (/Alternate); one
    we can is rewritten with only its colour tags.
    """
    try:
        profile = stream.read_bytes()
    except pikepdf.PdfError:
        return
    if profile[36:40] != b"acsp":
        return
    neutral = icc.neutral(profile)
    if neutral is not None:
        stream.write(zlib.compress(neutral), filter=Name.FlateDecode)


def _clean_photo(image: Stream) -> None:
    """Photos are stored in PDFs as whole JPEG files, EXIF and GPS included."""
    filters = image.get("/Filter")
    if isinstance(filters, pikepdf.Array) and len(filters) == 1:
        filters = filters[0]
    if filters != Name.DCTDecode:
        return
    raw = image.read_raw_bytes()
    image.write(jpeg.strip(raw), filter=Name.DCTDecode, decode_parms=image.get("/DecodeParms"))
