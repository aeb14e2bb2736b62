"""PDF: remove document information, XMP, IDs, attachments, scripts and editor private data.

Saving with pikepdf (qpdf) writes only objects reachable from the new trailer, so earlier
revisions kept by incremental saves (with their old Info and XMP) are dropped too.
"""

from __future__ import annotations

import io

import pikepdf
from pikepdf import Dictionary, Name, Stream

from . import jpeg
from .errors import ScrubError
from .result import Scrubbed

MEDIA_TYPE = "application/pdf"
NAME = "PDF document"
EXTENSION = "pdf"

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
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError as exc:
        raise ScrubError("Encrypted PDF documents cannot be cleaned; remove the password.") from exc
    except (pikepdf.PdfError, ValueError, OSError) as exc:
        raise ScrubError("The PDF document is damaged and cannot be read.") from exc
    with pdf:
        if pdf.is_encrypted:
            raise ScrubError("Encrypted PDF documents cannot be cleaned; remove the password.")
        try:
            _clean(pdf)
            out = io.BytesIO()
            # No /ID in the trailer: qpdf writes a fresh one instead of keeping the original's.
            pdf.save(out, fix_metadata_version=False)
        except pikepdf.PdfError as exc:
            raise ScrubError("The PDF document is damaged and cannot be cleaned.") from exc
    return Scrubbed(MEDIA_TYPE, EXTENSION, out.getvalue())


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


def _clean_photo(image: Stream) -> None:
    """Photos are stored in PDFs as whole JPEG files, EXIF and GPS included."""
    filters = image.get("/Filter")
    if isinstance(filters, pikepdf.Array) and len(filters) == 1:
        filters = filters[0]
    if filters != Name.DCTDecode:
        return
    raw = image.read_raw_bytes()
    image.write(jpeg.strip(raw), filter=Name.DCTDecode, decode_parms=image.get("/DecodeParms"))
