"""Attachments at intake: limit, scrub, then seal each file to the tip key.

Nothing unscrubbed is stored: every file goes through the scrubber registry (detected by
content) before it is sealed; a file that cannot be cleaned refuses the whole tip, with a
message, before anything is written.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import BinaryIO

from tipline.crypto import hierarchy as h
from tipline.errors import InvalidInput, TooLarge
from tipline.intake.scrub import Scrubbed, scrub
from tipline.store import AttachmentStore

MAX_FILES = 10


@dataclass(frozen=True)
class Upload:
    filename: str  # as the browser sent it: only ever used, sanitized, inside the seal
    stream: BinaryIO


@dataclass(frozen=True)
class CleanFile:
    name: str
    scrubbed: Scrubbed


def safe_name(filename: str, extension: str, index: int) -> str:
    """A display name without paths or control characters, with the detected extension."""
    base = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = re.sub(r"[^\w .()-]", "_", stem).strip(" ._")[:80]
    return f"{stem or f'attachment-{index}'}.{extension}"


def clean_uploads(uploads: list[Upload], max_file: int, max_total: int) -> list[CleanFile]:
    """Read, check sizes and scrub every upload; raises before anything is stored."""
    if len(uploads) > MAX_FILES:
        raise InvalidInput(f"Please attach at most {MAX_FILES} files.", field="attachments")
    total = 0
    cleaned = []
    for index, upload in enumerate(uploads, start=1):
        data = upload.stream.read(max_file + 1)
        if len(data) > max_file:
            raise TooLarge(
                f"“{safe_name(upload.filename, 'file', index)}” is larger than "
                f"{max_file // (1024 * 1024)} MB.",
                field="attachments",
            )
        total += len(data)
        if total > max_total:
            raise TooLarge(
                f"The attachments together are larger than {max_total // (1024 * 1024)} MB.",
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
