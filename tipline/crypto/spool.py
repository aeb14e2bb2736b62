"""Encrypted temporary files for uploads in flight.

Werkzeug spools multipart uploads to temporary files (or memory); a tipster's photo must
not sit on disk in clear, even for a second. Bytes written here reach the disk under
AES-256-CTR with a key that exists only in this object, and the file is unlinked at once
(``tempfile.TemporaryFile``), so nothing readable survives the process. CTR keeps the
file seekable; integrity is not needed for a file only this object ever reads back.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_BLOCK = 16


class EncryptedTempFile(io.RawIOBase):
    def __init__(self, directory: Path | str | None = None) -> None:
        super().__init__()
        self._key: bytes | None = os.urandom(32)
        self._nonce = os.urandom(8)
        self._file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - owned by self
        self._pos = 0
        self._size = 0

    def _xor(self, data: bytes, offset: int) -> bytes:
        if self._key is None:
            raise ValueError("I/O operation on closed file")
        block, skip = divmod(offset, _BLOCK)
        counter = self._nonce + block.to_bytes(8, "big")
        encryptor = Cipher(algorithms.AES(self._key), modes.CTR(counter)).encryptor()
        return encryptor.update(bytes(skip) + data)[skip:]

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        data = bytes(data)
        self._file.seek(self._pos)
        self._file.write(self._xor(data, self._pos))
        self._pos += len(data)
        self._size = max(self._size, self._pos)
        return len(data)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        self._file.seek(self._pos)
        raw = self._file.read(len(buffer))
        plain = self._xor(raw, self._pos)
        buffer[: len(plain)] = plain
        self._pos += len(plain)
        return len(plain)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed:
            self._file.close()
            self._key = None  # forget the key: whatever the disk kept is noise now
        super().close()

    def raw_file_bytes(self) -> bytes:
        """What is actually on disk (tests use this to prove it is not the plaintext)."""
        self._file.flush()
        self._file.seek(0)
        return self._file.read()


def encrypted_spool(directory: Path | str | None = None) -> io.BufferedRandom:
    """A buffered, seekable encrypted temporary file."""
    return io.BufferedRandom(EncryptedTempFile(directory))
