"""The child process that parses PDFs and HEIC photos: bounded, and leaves nothing behind."""

from __future__ import annotations

import ctypes
import resource
import time

import pytest

from tipline.intake.scrub import ScrubError, sandbox

pytestmark = pytest.mark.embedded

LIMITS = {"memory": 256 * 1024 * 1024, "cpu_seconds": 5, "wall_seconds": 10.0}


def test_the_result_comes_back_whole() -> None:
    big = bytes(range(256)) * 40_000  # 10 MB: more than a pipe holds at once
    assert sandbox.run_bounded(lambda data: data[::-1], big, **LIMITS) == big[::-1]


def test_a_refusal_comes_back_with_its_message() -> None:
    def refuse(data: bytes) -> bytes:
        raise ScrubError("The file is empty.")

    with pytest.raises(ScrubError, match="The file is empty."):
        sandbox.run_bounded(refuse, b"", **LIMITS)


def test_memory_beyond_the_allowance_stops_the_child_not_the_parent() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(sandbox.Exhausted):
        sandbox.run_bounded(lambda data: bytes(1024 * 1024 * 1024), b"", **LIMITS)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024


def test_cpu_time_and_wall_clock_are_bounded() -> None:
    def spin(data: bytes) -> bytes:
        while True:
            pass

    started = time.monotonic()
    with pytest.raises(sandbox.Exhausted):
        sandbox.run_bounded(spin, b"", memory=LIMITS["memory"], cpu_seconds=1, wall_seconds=30)
    with pytest.raises(sandbox.Exhausted):
        sandbox.run_bounded(spin, b"", memory=LIMITS["memory"], cpu_seconds=30, wall_seconds=1)
    assert time.monotonic() - started < 10


def test_the_child_never_dumps_core() -> None:
    # Its memory is a copy of the web worker's, tips in clear included.
    def core_settings(data: bytes) -> bytes:
        dumpable = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE
        return repr((resource.getrlimit(resource.RLIMIT_CORE), dumpable)).encode()

    assert sandbox.run_bounded(core_settings, b"", **LIMITS) == b"((0, 0), 0)"


def test_a_bug_comes_back_as_a_bug_with_its_traceback() -> None:
    def buggy(data: bytes) -> bytes:
        return {}["missing"]  # type: ignore[no-any-return]

    with pytest.raises(RuntimeError, match="KeyError: 'missing'"):
        sandbox.run_bounded(buggy, b"", **LIMITS)


def test_nothing_is_left_behind() -> None:
    import os

    before = set(os.listdir("/proc/self/fd"))
    for _ in range(5):
        sandbox.run_bounded(lambda data: data, b"x", **LIMITS)
    assert set(os.listdir("/proc/self/fd")) == before  # no descriptor leaked
    assert _children() == []  # and no child left running or to collect


def _children() -> list[str]:
    import os
    from pathlib import Path

    found, own = [], Path("/proc/self/comm").read_text()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == os.getpid() and (stat.parent / "comm").read_text() == own:
            found.append(f"{stat.parent.name} {fields[0]}")
    return found
