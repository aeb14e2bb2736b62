"""Which kind of file this is, from its content only.

The file name and the client's MIME type are chosen by whoever uploads; they never decide
which scrubber runs. Zip-based Office files are told apart by their structure, so for those
``detect`` needs the whole file (``scrub`` always passes it).
"""

from __future__ import annotations

import codecs
import io
import zipfile

JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
HEIC = "image/heic"
HEIF = "image/heif"
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
TEXT = "text/plain"
ZIP = "application/zip"

# OOXML main part folder -> (plain type, macro-enabled type). Macro files are detected as
# their own type so the registry refuses them like any other unsupported type.
OOXML = {
    "word/": (DOCX, "application/vnd.ms-word.document.macroEnabled.12"),
    "xl/": (XLSX, "application/vnd.ms-excel.sheet.macroEnabled.12"),
    "ppt/": (PPTX, "application/vnd.ms-powerpoint.presentation.macroEnabled.12"),
}

_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_HEIF_BRANDS = {b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}

# Formats that are not accepted, named so that errors and logs can say what arrived, and so
# that text-based formats carrying metadata (RTF \author, PostScript %%For, SVG <metadata>)
# are never mistaken for plain text.
_OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\x7fELF", "application/x-executable"),
    (b"MZ", "application/x-msdownload"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
    (b"{\\rtf", "application/rtf"),
    (b"%!PS", "application/postscript"),
    (b"%FDF", "application/vnd.fdf"),
    (b"<?xml", "application/xml"),
    (b"<svg", "image/svg+xml"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"BM", "image/bmp"),
    (b"\x1f\x8b", "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!", "application/vnd.rar"),
)


def detect(head: bytes) -> str | None:
    """The media type of a file from its first bytes (the whole file for Office), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        return _heif_type(head)
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(head)
    for magic, media_type in _OTHER_MAGIC:
        if head.startswith(magic):
            return media_type
    if _is_utf8_text(head):
        return TEXT
    return None


def _heif_type(head: bytes) -> str | None:
    size = int.from_bytes(head[0:4], "big")
    box = head[8 : min(size, len(head), 256)]
    brands = {box[0:4]} | {box[i : i + 4] for i in range(8, len(box) - 3, 4)}
    if brands & _AVIF_BRANDS:
        return None  # AVIF is not decoded by our HEIF path
    if brands & _HEIC_BRANDS:
        return HEIC
    if brands & _HEIF_BRANDS:
        return HEIF
    return None


def _zip_type(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, IndexError):
        return ZIP
    return package_type(names)


def package_type(names: list[str]) -> str:
    """The Office type of a zip package from its part names (ZIP if it is none of them)."""
    names = [n for n in names if not n.endswith("/")]  # folder entries are not parts
    if "[Content_Types].xml" not in names:
        return ZIP
    macro = any(n.lower().endswith("vbaproject.bin") for n in names)
    for folder, (plain, with_macros) in OOXML.items():
        if any(n.startswith(folder) for n in names):
            return with_macros if macro else plain
    return ZIP


def _is_utf8_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        # final=False: a head cut in the middle of a multi-byte character is still text.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True
