"""The sealed attachment store: the one module that owns attachment paths on disk.

Files are sealed before they are written (nothing here ever sees plaintext), named by
their random item key only, written to a temporary name and renamed into place, and
overwritten before they are unlinked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

_ITEM_KEY = re.compile(r"[0-9a-f]{32}")
# What write() leaves on disk: the file, or its partial form if the writer died first.
_STORED_NAME = re.compile(r"(?P<key>[0-9a-f]{32})\.(?:sealed|partial)")


class AttachmentStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def relative_path(self, item_key: str) -> str:
        if not _ITEM_KEY.fullmatch(item_key):
            raise ValueError("not an item key")
        return f"attachments/{item_key[:2]}/{item_key}.sealed"

    def path(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to((self.root / "attachments").resolve()):
            raise ValueError("path outside the attachment store")
        return path

    def write(self, item_key: str, write_sealed: Callable[[BinaryIO], object]) -> str:
        """Create the file for ``item_key`` with what ``write_sealed`` writes into it."""
        relative = self.relative_path(item_key)
        final = self.path(relative)
        final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = final.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                write_sealed(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return relative

    def written_before(self, cutoff: float) -> Iterator[tuple[str, str]]:
        """(item key, relative path) of each file write() made, whole or partial, last
        written before ``cutoff`` (a ``time.time()`` value). Other names are not ours and
        are never listed."""
        top = self.root / "attachments"
        if not top.is_dir():
            return
        with os.scandir(top) as shards:
            for shard in shards:
                if not (
                    shard.is_dir(follow_symlinks=False) and re.fullmatch(r"[0-9a-f]{2}", shard.name)
                ):
                    continue
                with os.scandir(shard.path) as entries:
                    for entry in entries:
                        match = _STORED_NAME.fullmatch(entry.name)
                        if not match or not match["key"].startswith(shard.name):
                            continue
                        if not entry.is_file(follow_symlinks=False):
                            continue
                        try:
                            written = entry.stat(follow_symlinks=False).st_mtime
                        except FileNotFoundError:  # deleted or renamed since it was listed
                            continue
                        if written < cutoff:
                            yield match["key"], f"attachments/{shard.name}/{entry.name}"

    def open(self, relative: str) -> BinaryIO:
        return self.path(relative).open("rb")

    def delete(self, relative: str) -> bool:
        """Overwrite, then unlink (where the filesystem honours overwrites). False if the
        file was gone already. A symbolic link in its place is refused, never followed."""
        self.path(relative)  # inside the store, or ValueError
        path = self.root / relative
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
        except FileNotFoundError:
            return False
        with os.fdopen(fd, "r+b") as handle:
            remaining = os.fstat(handle.fileno()).st_size
            while remaining:
                step = min(remaining, 1 << 20)
                handle.write(os.urandom(step))
                remaining -= step
            handle.flush()
            os.fsync(handle.fileno())
        try:
            path.unlink()
        except FileNotFoundError:  # another deleter got there between the two
            return False
        return True
