"""Word, Excel and PowerPoint (OOXML zip packages): blank properties, authors and revision IDs.

The package is rewritten entry by entry with fixed timestamps, so neither the zip headers
(times, host OS, extra fields) nor the parts below keep who wrote the document, on what
machine, or when:
- docProps/core.xml and app.xml become empty; custom.xml, the thumbnail and customXml/
  (SharePoint properties) are removed with their relationships and content types;
- authors, initials, user/provider IDs and dates of comments and tracked changes are
  replaced; rsid revision IDs, document IDs, document variables, the attached template
  path and Excel's absolute save path are removed;
- embedded photos are stripped like uploaded ones, embedded Office files are cleaned the
  same way, and embedded OLE objects (which have their own metadata) are refused.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass

from lxml import etree

from tipline.i18n import _l

from . import jpeg, pdf, png, webp
from .detect import OOXML, ZIP, detect, package_type
from .errors import ScrubError, UnsupportedType
from .limits import (
    MAX_ZIP_DEPTH,
    MAX_ZIP_ENTRIES,
    MAX_ZIP_RATIO,
    MAX_ZIP_UNCOMPRESSED,
    ZIP_RATIO_GRACE,
)
from .result import Scrubbed

NAMES = {
    "word/": _l("Word document (.docx)"),
    "xl/": _l("Excel workbook (.xlsx)"),
    "ppt/": _l("PowerPoint presentation (.pptx)"),
}
MEDIA_TYPES = {plain: folder for folder, (plain, _) in OOXML.items()}
_EXTENSIONS = {"word/": "docx", "xl/": "xlsx", "ppt/": "pptx"}

_CORE = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
    b' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"'
    b' xmlns:dcmitype="http://purl.org/dc/dcmitype/"'
    b' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
)
_APP = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"'
    b' xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"/>'
)
_BLANKED = {"docProps/core.xml": _CORE, "docProps/app.xml": _APP}
_EPOCH = (1980, 1, 1, 0, 0, 0)
_NEUTRAL_DATE = "1980-01-01T00:00:00Z"

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_REMOVED_ELEMENTS = {
    (_W, "rsids"),
    (_W, "docVars"),
    (_W, "attachedTemplate"),
    ("http://schemas.microsoft.com/office/word/2010/wordml", "docId"),
    ("http://schemas.microsoft.com/office/word/2012/wordml", "docId"),
    ("http://schemas.microsoft.com/office/word/2012/wordml", "presenceInfo"),
}
# Attributes naming a person anywhere in a part (comments, tracked changes, people.xml,
# PowerPoint comment authors, Excel persons and pivot caches) and what replaces them.
_PERSON_ATTRIBUTES = {
    "author": "Anonymous",
    "initials": "A",
    "displayName": "Anonymous",
    "userId": "",
    "providerId": "None",
    "refreshedBy": "Anonymous",
}
_PERSON_ELEMENTS = {"cmAuthor", "author", "person"}  # whose "name" attribute is a person
_DATED_ELEMENTS = {"comment", "cm", "reply", "threadedComment", "ins", "del", "moveFrom", "moveTo"}
# An OPC part name: relative, "/"-separated segments of printable characters, no "." or ".."
# segment, no backslash (Windows tools would read it as a folder separator).
_SEGMENT = r"(?!\.\.?(?:/|$))[^/\\\x00-\x1f\x7f]+"
_PART_NAME = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*/?")
# Pictures that carry EXIF and GPS like photos do, in formats we do not rewrite.
_UNCLEANABLE_PICTURES = {"image/tiff": "TIFF", "image/heic": "HEIC", "image/heif": "HEIF"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def scrub(data: bytes) -> Scrubbed:
    return _scrub(data, _Budget(), depth=0)


@dataclass
class _Budget:
    """What one upload may still decompress, shared by the documents embedded in it: each
    nested package would otherwise get the whole allowance again (a zip of zips bomb)."""

    remaining: int = MAX_ZIP_UNCOMPRESSED


def _scrub(data: bytes, budget: _Budget, depth: int) -> Scrubbed:
    parts, media_type = _read(data, budget)
    folder = MEDIA_TYPES[media_type]
    return Scrubbed(media_type, _EXTENSIONS[folder], _write(_clean(parts, budget, depth)))


def _read(data: bytes, budget: _Budget) -> tuple[dict[str, bytes], str]:
    declared = _declared_entries(data)
    if declared is not None and declared > MAX_ZIP_ENTRIES:
        raise _too_many_parts()  # before parsing a central directory of that size
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            names = [i.filename for i in infos]
            if len(infos) > MAX_ZIP_ENTRIES:
                raise _too_many_parts()
            if len(set(names)) != len(names):
                raise ScrubError(_l("The document is damaged: it has duplicate parts."))
            if not all(_PART_NAME.fullmatch(name) for name in names):
                # Also what would let a part land outside the folder it is extracted to.
                raise ScrubError(_l("The document is damaged: a part has an invalid name."))
            media_type = package_type(names)
            if media_type != ZIP and any(n.lower().endswith("vbaproject.bin") for n in names):
                raise UnsupportedType(
                    _accepted(), detail=_l("Documents with macros are not accepted.")
                )
            if media_type not in MEDIA_TYPES:
                raise UnsupportedType(_accepted())
            infos = [i for i in infos if not i.filename.endswith("/")]
            _check_sizes(infos, budget)
            parts = {}
            for info in infos:
                with zf.open(info) as entry:
                    # zipfile stops at the declared size, so the sizes checked above bound the work.
                    parts[info.filename] = entry.read(info.file_size + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, NotImplementedError,
            EOFError, OSError, ValueError, IndexError, zlib.error) as exc:  # fmt: skip
        raise ScrubError(
            _l("The document is damaged or encrypted and cannot be read. Please send it again.")
        ) from exc
    return parts, media_type


def _too_many_parts() -> ScrubError:
    return ScrubError(
        _l("The document has too many parts (over %(limit)s).", limit=MAX_ZIP_ENTRIES)
    )


def _declared_entries(data: bytes) -> int | None:
    """The entry count in the end-of-central-directory record, read without parsing."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return None
    count = int.from_bytes(data[end + 10 : end + 12], "little")
    return None if count == 0xFFFF else count  # 0xFFFF: Zip64, counted by zipfile


def _check_sizes(infos: list[zipfile.ZipInfo], budget: _Budget) -> None:
    """Zip bombs: the total once uncompressed, and how much any part expands."""
    total = sum(i.file_size for i in infos)
    if total > budget.remaining:
        raise ScrubError(
            _l(
                "The document is too large once uncompressed (over %(limit)s MB).",
                limit=MAX_ZIP_UNCOMPRESSED // (1024 * 1024),
            )
        )
    for info in infos:
        if info.file_size > ZIP_RATIO_GRACE and info.file_size > MAX_ZIP_RATIO * max(
            info.compress_size, 1
        ):
            raise ScrubError(
                _l(
                    "The document cannot be cleaned safely: a part of it is compressed "
                    "more than %(ratio)s times. Please save it again and send the new file.",
                    ratio=MAX_ZIP_RATIO,
                )
            )
    budget.remaining -= total


def _accepted() -> tuple[str, ...]:
    from .registry import ACCEPTED  # the registry imports this module

    return ACCEPTED


def _clean(parts: dict[str, bytes], budget: _Budget, depth: int) -> dict[str, bytes]:
    removed = {
        name
        for name in parts
        if name == "docProps/custom.xml" or name.startswith(("docProps/thumbnail", "customXml/"))
    }
    cleaned: dict[str, bytes] = {}
    for name, body in parts.items():
        if name in removed:
            continue
        if name in _BLANKED:
            cleaned[name] = _BLANKED[name]
        elif name.endswith(".rels"):
            cleaned[name] = _clean_relationships(name, body, removed)
        elif name == "[Content_Types].xml":
            cleaned[name] = _clean_content_types(body, removed)
        elif name.endswith((".xml", ".vml")):
            cleaned[name] = _serialize(_clean_part(_parse(body)))
        else:
            cleaned[name] = _clean_embedded(body, budget, depth)
    return cleaned


def _parse(body: bytes) -> etree._Element:
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ScrubError(_l("The document is damaged: a part is not valid XML.")) from exc
    if root.getroottree().docinfo.doctype:
        raise ScrubError(_l("The document is damaged: a part declares a DTD."))
    return root


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _clean_part(root: etree._Element) -> etree._Element:
    doomed = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        tag = etree.QName(element)
        if (tag.namespace, tag.localname) in _REMOVED_ELEMENTS:
            doomed.append(element)
            continue
        if tag.localname == "absPath":  # Excel's save folder, e.g. C:\Users\<name>\...
            parent = element.getparent()
            doomed.append(parent.getparent() if _is_alternate_choice(parent) else element)
            continue
        if tag.localname == "author" and _local(element.getparent()) == "authors":
            element.text = "Anonymous"  # Excel legacy comment authors
        for attribute in list(element.attrib):
            name = etree.QName(attribute)
            local = name.localname
            if name.namespace == _W and local.startswith("rsid"):
                del element.attrib[attribute]
            elif local in _PERSON_ATTRIBUTES:
                element.set(attribute, _PERSON_ATTRIBUTES[local])
            elif local == "name" and tag.localname in _PERSON_ELEMENTS:
                element.set(attribute, "Anonymous")
            elif local in ("date", "dateUtc", "dt", "created") and (
                tag.localname in _DATED_ELEMENTS or name.namespace == _W
            ):
                element.set(attribute, _NEUTRAL_DATE)
    for element in doomed:
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)
    return root


def _local(element: etree._Element | None) -> str:
    return "" if element is None else etree.QName(element).localname


def _is_alternate_choice(element: etree._Element | None) -> bool:
    return (
        element is not None
        and _local(element) == "Choice"
        and _local(element.getparent()) == "AlternateContent"
    )


def _clean_relationships(name: str, body: bytes, removed: set[str]) -> bytes:
    """Drop relationships to removed parts and to the user's template path."""
    root = _parse(body)
    folder = posixpath.dirname(posixpath.dirname(name))  # word/_rels/x.rels -> word
    for rel in list(root):
        if not isinstance(rel.tag, str):
            continue
        target = rel.get("Target", "")
        external = rel.get("TargetMode") == "External"
        resolved = (
            target.lstrip("/")
            if target.startswith("/")
            else posixpath.normpath(posixpath.join(folder, target))
        )
        if (not external and resolved in removed) or rel.get("Type", "").endswith(
            "/attachedTemplate"
        ):
            root.remove(rel)
    return _serialize(root)


def _clean_content_types(body: bytes, removed: set[str]) -> bytes:
    root = _parse(body)
    for override in list(root):
        if isinstance(override.tag, str) and override.get("PartName", "").lstrip("/") in removed:
            root.remove(override)
    return _serialize(root)


def _clean_embedded(body: bytes, budget: _Budget, depth: int) -> bytes:
    kind = detect(body[:64]) if not body.startswith(b"PK") else detect(body)
    if kind == jpeg.MEDIA_TYPE:
        return jpeg.strip(body)  # not rotated: the document's layout already sized it
    if kind == png.MEDIA_TYPE:
        return png.strip(body)
    if kind == webp.MEDIA_TYPE:
        return webp.scrub(body).data
    if kind == pdf.MEDIA_TYPE:  # Word and PowerPoint for Mac place PDFs as pictures
        return pdf.scrub(body).data
    if kind in _UNCLEANABLE_PICTURES:
        raise ScrubError(
            _l(
                "The document contains a picture in a format we cannot clean (%(kind)s). "
                "Please insert it as JPEG or PNG, or save the document as PDF, and send it again.",
                kind=_UNCLEANABLE_PICTURES[kind],
            )
        )
    if kind in MEDIA_TYPES:
        if depth + 1 > MAX_ZIP_DEPTH:
            raise ScrubError(
                _l("The document embeds documents in documents too deeply to clean safely.")
            )
        return _scrub(body, budget, depth + 1).data
    if kind == "application/x-ole-storage" or (kind or "").startswith("application/vnd.ms-"):
        raise ScrubError(
            _l(
                "The document contains an embedded object that cannot be cleaned. "
                "Please remove it, or save the document as PDF, and send it again."
            )
        )
    return body  # fonts, vector drawings, GIFs: no personal metadata we know how to find


def _write(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    order = sorted(parts, key=lambda n: n != "[Content_Types].xml")  # stable: content types first
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0  # MS-DOS, as Office writes: says nothing about our host
            info.external_attr = 0
            zf.writestr(info, parts[name])
    return out.getvalue()
