import io
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from tipline.crypto.spool import EncryptedTempFile, encrypted_spool

CANARY = b"CANARY-spool-GPS-45.4215,-75.6972"


def test_bytes_on_disk_are_not_the_plaintext_and_read_back_exactly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    spool = EncryptedTempFile(tmp_path)
    payload = CANARY * 1000
    spool.write(payload)
    on_disk = spool.raw_file_bytes()
    assert len(on_disk) == len(payload)
    assert CANARY not in on_disk
    spool.seek(0)
    assert spool.readall() == payload
    # The temporary file is unlinked at once: nothing in the directory to find.
    assert os.listdir(tmp_path) == []
    spool.close()


@settings(max_examples=40, deadline=None, database=None)
@given(
    chunks=st.lists(st.binary(min_size=0, max_size=100), max_size=8),
    offset=st.integers(min_value=0, max_value=900),
)
def test_random_access_reads_match_what_was_written(chunks: list[bytes], offset: int) -> None:
    spool = encrypted_spool()
    for chunk in chunks:
        spool.write(chunk)
    data = b"".join(chunks)
    spool.seek(min(offset, len(data)))
    assert spool.read() == data[min(offset, len(data)) :]
    spool.seek(0, io.SEEK_END)
    assert spool.tell() == len(data)
    spool.close()


def test_closed_spool_forgets_its_key() -> None:
    spool = EncryptedTempFile()
    spool.write(b"x")
    spool.close()
    assert spool._key is None  # noqa: SLF001 - the property under test
