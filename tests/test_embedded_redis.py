"""The bundled Redis: started and stopped by us, and never left behind."""

import os
import signal
import time
from pathlib import Path

import pytest

from tipline.embedded_redis import EmbeddedRedis

pytestmark = pytest.mark.embedded


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return (
        Path(f"/proc/{pid}").exists()
        and b"zombie" not in Path(f"/proc/{pid}/status").read_bytes().lower()
    )


def test_start_serves_on_a_private_socket_and_stop_removes_everything(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    pid = server.process.pid  # type: ignore[union-attr]
    assert server.ping()
    assert oct(server.socket_path.stat().st_mode & 0o777) == "0o700"
    server.stop()
    time.sleep(0.1)
    assert not _alive(pid)
    assert not server.socket_path.exists() and not server.pid_path.exists()


def test_a_server_left_by_a_crashed_run_is_stopped_before_a_new_one_starts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    crashed = EmbeddedRedis(tmp_path / "redis")
    crashed.start()
    orphan = crashed.process.pid  # type: ignore[union-attr]
    crashed.process = None  # the run "crashed": nobody will stop it
    fresh = EmbeddedRedis(tmp_path / "redis")
    fresh.start()
    try:
        deadline = time.monotonic() + 5
        while _alive(orphan) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(orphan)
        assert fresh.ping()
    finally:
        fresh.stop()
        if _alive(orphan):
            os.kill(orphan, signal.SIGKILL)


def test_another_directorys_server_is_left_alone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    other = EmbeddedRedis(tmp_path / "other")
    other.start()
    try:
        mine = EmbeddedRedis(tmp_path / "mine")
        mine.directory.mkdir()
        mine.pid_path.write_text(str(other.process.pid))  # type: ignore[union-attr]  # a stale pidfile naming it
        mine.start()
        mine.stop()
        assert other.ping()
    finally:
        other.stop()
