"""Chunked sealing for attachments: constant memory whatever the file size.

A fresh 256-bit file key is HPKE-sealed to the recipient (the tip key) with the context;
the file is then cut into chunks, each AES-256-GCM encrypted with a nonce made of a
random prefix and the chunk counter, and an AAD carrying the context, the counter and a
last-chunk flag (the STREAM construction), so chunks cannot be reordered, dropped,
duplicated or the file truncated without detection.

Layout: magic(4) | sealed-key length(2) | sealed key | prefix(7) | chunk size(4) | chunks,
each chunk being its ciphertext length (4) | ciphertext (chunk + 16-byte tag).
"""

from __future__ import annotations

import os
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tipline.crypto.errors import SealError
from tipline.crypto.keys import PrivateKey, PublicKey
from tipline.crypto.sealing import Context, open_sealed, seal

_MAGIC = b"TLS1"
DEFAULT_CHUNK = 64 * 1024
_PREFIX = 7
_MAX_CHUNK = 16 * 1024 * 1024


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


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
    if not 0 < chunk_size <= _MAX_CHUNK:
        raise ValueError("chunk size out of range")
    file_key = os.urandom(32)
    sealed_key = seal(public_key, file_key, context)
    prefix = os.urandom(_PREFIX)
    dst.write(_MAGIC + len(sealed_key).to_bytes(2, "big") + sealed_key)
    dst.write(prefix + chunk_size.to_bytes(4, "big"))
    aead = AESGCM(file_key)
    aad = context.info()
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
    sealed_key = _read_exact(src, int.from_bytes(head[4:6], "big"))
    file_key = open_sealed(private_key, sealed_key, context)
    params = _read_exact(src, _PREFIX + 4)
    if len(params) != _PREFIX + 4:
        raise SealError("truncated stream")
    prefix = params[:_PREFIX]
    chunk_size = int.from_bytes(params[_PREFIX:], "big")
    aead = AESGCM(file_key)
    aad = context.info()
    total = 0
    counter = 0
    while True:
        size_bytes = _read_exact(src, 4)
        if len(size_bytes) != 4:
            raise SealError("truncated stream")
        size = int.from_bytes(size_bytes, "big")
        if size > chunk_size + 16:
            raise SealError("corrupt chunk length")
        box = _read_exact(src, size)
        if len(box) != size:
            raise SealError("truncated stream")
        for last in (False, True):
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
