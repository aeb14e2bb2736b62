"""Attachments at intake: limit, scrub, then seal each file to the tip key.

Nothing unscrubbed is stored: every file goes through the scrubber registry (detected by
content) before it is sealed; a file that cannot be cleaned refuses the whole tip, with a
message, before anything is written.
"""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy.exc import DBAPIError
from werkzeug.datastructures import FileStorage

from tipline.crypto import hierarchy as h
from tipline.errors import InvalidInput, TooLarge
from tipline.i18n import _l
from tipline.intake.scrub import Scrubbed, scrub
from tipline.store import AttachmentStore

log = logging.getLogger("tipline.attachments")

MAX_FILES = 10


@dataclass(frozen=True)
class Upload:
    filename: str  # as the browser sent it: only ever used, sanitized, inside the seal
    stream: BinaryIO


@dataclass(frozen=True)
class CleanFile:
    name: str
    scrubbed: Scrubbed


_RAW_FILENAME = re.compile(r'filename="([^"\r\n]*)"', re.IGNORECASE)


def upload_name(storage: FileStorage) -> str:
    """The browser's name for an uploaded file.

    Werkzeug reads the header's quoted string by the book, so ``\\`` escapes the next
    character: the Windows path some browsers send (``C:\\Users\\Jean\\x.jpg``) reaches us
    glued into one name, account name included. The raw header keeps the backslashes,
    and safe_name then drops every folder."""
    raw = _RAW_FILENAME.search(storage.headers.get("Content-Disposition", ""))
    if raw and "\\" in raw.group(1):
        return raw.group(1)
    return storage.filename or ""


@contextmanager
def received_files(
    storages: list[FileStorage], store: AttachmentStore
) -> Iterator[tuple[list[Upload], list[str]]]:
    """The uploads of a request, and a list for the paths of sealed files written from
    them. On leaving, the uploads' encrypted spools are closed; if the block raised (the
    transaction did not commit), the sealed files it wrote are deleted."""
    uploads = [Upload(upload_name(f), f.stream) for f in storages if f.filename]
    written: list[str] = []
    try:
        yield uploads, written
    except BaseException as exc:
        discard_uncommitted(store, written, exc)
        raise
    finally:
        for upload in uploads:
            upload.stream.close()


def discard_uncommitted(store: AttachmentStore, written: list[str], exc: BaseException) -> None:
    """Delete the sealed files of a transaction that raised ``exc`` instead of committing.

    A lost connection may have come after the server committed (during COMMIT), and then
    a row names these files: they are left to the orphan sweep (tipline.triage.retention),
    which deletes them a day later only if no row does. A statement the database refused
    (a constraint, a bad value) committed nothing: its files go now."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        if written:
            log.warning(
                "%d sealed file(s) left to the orphan sweep (database connection lost)",
                len(written),
            )
        return
    for path in written:
        store.delete(path)


def _typed_extension(filename: str) -> str:
    """The extension the tipster's file name claims (for messages about a file that was
    never scrubbed, so has no detected type)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    extension = base.rsplit(".", 1)[-1] if "." in base else ""
    return extension if re.fullmatch(r"[A-Za-z0-9]{1,8}", extension) else "file"


def safe_name(filename: str, extension: str, index: int) -> str:
    """A display name without paths or control characters, with the detected extension."""
    base = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = re.sub(r"[^\w .()-]", "_", stem).strip(" ._")[:80]
    return f"{stem or f'attachment-{index}'}.{extension}"


def clean_uploads(uploads: list[Upload], max_file: int, max_total: int) -> list[CleanFile]:
    """Read, check sizes and scrub every upload; raises before anything is stored."""
    if len(uploads) > MAX_FILES:
        raise InvalidInput(
            _l("Please attach at most %(n)s files.", n=MAX_FILES), field="attachments"
        )
    total = 0
    cleaned = []
    for index, upload in enumerate(uploads, start=1):
        data = upload.stream.read(max_file + 1)
        if len(data) > max_file:
            raise TooLarge(
                _l(
                    "“%(name)s” is larger than %(mb)s MB.",
                    name=safe_name(upload.filename, _typed_extension(upload.filename), index),
                    mb=max_file // (1024 * 1024),
                ),
                field="attachments",
            )
        total += len(data)
        if total > max_total:
            raise TooLarge(
                _l(
                    "The attachments together are larger than %(mb)s MB.",
                    mb=max_total // (1024 * 1024),
                ),
                field="attachments",
            )
        result = scrub(data)
        cleaned.append(CleanFile(safe_name(upload.filename, result.extension, index), result))
    return cleaned


def seal_files(
    files: list[CleanFile],
    store: AttachmentStore,
    tip_public: bytes,
    reference: str,
    written: list[str],
) -> list[dict[str, object]]:
    """Seal each file into the store; returns the sealed-item rows. ``written`` collects
    the stored paths so the caller can delete them if the transaction fails."""
    rows = []
    for file in files:
        item_key = secrets.token_hex(16)
        meta = json.dumps(
            {"name": file.name, "type": file.scrubbed.media_type, "size": len(file.scrubbed.data)}
        ).encode()

        def write(dst: BinaryIO, file: CleanFile = file, item_key: str = item_key) -> None:
            src = io.BytesIO(file.scrubbed.data)
            h.seal_tip_stream(tip_public, reference, "attachment", item_key, src, dst)

        relative = store.write(item_key, write)
        written.append(relative)
        rows.append(
            {
                "kind": "attachment",
                "item_key": item_key,
                "ciphertext": h.seal_tip_item(tip_public, reference, "attachment", item_key, meta),
                "blob_path": relative,
            }
        )
    return rows
