"""Chunked sealing for attachments: constant memory whatever the file size.

A fresh 256-bit file key is HPKE-sealed to the recipient (the tip key) under a context
derived from the item's ("…/stream-key"); the file is cut into chunks, each AES-256-GCM
encrypted with a nonce made of a random prefix, the chunk counter and a last-chunk flag,
and an AAD binding the item's context and the whole header (the STREAM construction).
Chunks cannot be reordered, dropped, duplicated, resized, or the file truncated or
extended, without detection.

Layout: magic(4) | sealed-key length(2) | sealed key | prefix(7) | chunk size(4) | chunks,
each chunk being its ciphertext length (4) | ciphertext (chunk + 16-byte tag). Every
chunk but the last holds exactly ``chunk size`` bytes of plaintext.

``open_stream`` writes each chunk once it authenticates, so on SealError what was written
to ``dst`` must be thrown away: open into a temporary file and keep it only on success.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tipline.crypto.errors import SealError
from tipline.crypto.keys import PrivateKey, PublicKey
from tipline.crypto.sealing import Context, open_sealed, seal

_MAGIC = b"TLS2"
DEFAULT_CHUNK = 64 * 1024
_PREFIX = 7
_TAG = 16
MAX_CHUNK = 16 * 1024 * 1024
_MAX_SEALED_KEY = 4096


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _aad(context: Context, header: bytes) -> bytes:
    return b"stream" + context.info() + header


def _read_exact(src: BinaryIO, size: int) -> bytes:
    out = bytearray()
    while len(out) < size:
        piece = src.read(size - len(out))
        if not piece:
            break
        out += piece
    return bytes(out)


def seal_stream(
    public_key: PublicKey,
    src: BinaryIO,
    dst: BinaryIO,
    context: Context,
    chunk_size: int = DEFAULT_CHUNK,
) -> int:
    """Seal everything readable from ``src`` into ``dst``; returns the plaintext size."""
    if not 0 < chunk_size <= MAX_CHUNK:
        raise ValueError("chunk size out of range")
    file_key = os.urandom(32)
    sealed_key = seal(public_key, file_key, context.derive("stream-key"))
    header = _MAGIC + len(sealed_key).to_bytes(2, "big") + sealed_key
    header += os.urandom(_PREFIX) + chunk_size.to_bytes(4, "big")
    dst.write(header)
    prefix = header[-(_PREFIX + 4) : -4]
    aead = AESGCM(file_key)
    aad = _aad(context, header)
    total = 0
    counter = 0
    chunk = _read_exact(src, chunk_size)
    while True:
        # Look one chunk ahead so the last chunk is known when it is encrypted.
        following = _read_exact(src, chunk_size) if len(chunk) == chunk_size else b""
        last = not following
        box = aead.encrypt(_nonce(prefix, counter, last), chunk, aad)
        dst.write(len(box).to_bytes(4, "big") + box)
        total += len(chunk)
        if last:
            return total
        counter += 1
        if counter >= 2**32:
            raise ValueError("file too large for one stream")
        chunk = following


def open_stream(private_key: PrivateKey, src: BinaryIO, dst: BinaryIO, context: Context) -> int:
    """Open a stream made by :func:`seal_stream`; raises SealError on any tampering."""
    head = _read_exact(src, 6)
    if len(head) != 6 or head[:4] != _MAGIC:
        raise SealError("not a sealed stream")
    key_size = int.from_bytes(head[4:6], "big")
    if key_size > _MAX_SEALED_KEY:
        raise SealError("corrupt stream header")
    sealed_key = _read_exact(src, key_size)
    params = _read_exact(src, _PREFIX + 4)
    if len(sealed_key) != key_size or len(params) != _PREFIX + 4:
        raise SealError("truncated stream")
    chunk_size = int.from_bytes(params[_PREFIX:], "big")
    if not 0 < chunk_size <= MAX_CHUNK:
        raise SealError("corrupt stream header")
    file_key = open_sealed(private_key, sealed_key, context.derive("stream-key"))
    header = head + sealed_key + params
    prefix = params[:_PREFIX]
    aead = AESGCM(file_key)
    aad = _aad(context, header)
    total = 0
    counter = 0
    while True:
        size_bytes = _read_exact(src, 4)
        if len(size_bytes) != 4:
            raise SealError("truncated stream")
        size = int.from_bytes(size_bytes, "big")
        if not _TAG <= size <= chunk_size + _TAG:
            raise SealError("corrupt chunk length")
        box = _read_exact(src, size)
        if len(box) != size:
            raise SealError("truncated stream")
        # Only the last chunk may be short; a full chunk may be either.
        candidates = (False, True) if size == chunk_size + _TAG else (True,)
        for last in candidates:
            try:
                plain = aead.decrypt(_nonce(prefix, counter, last), box, aad)
            except InvalidTag:
                continue
            break
        else:
            raise SealError("chunk did not authenticate")
        dst.write(plain)
        total += len(plain)
        if last:
            if src.read(1):
                raise SealError("data after the last chunk")
            return total
        counter += 1
