"""Run one parser of hostile files in a child process, with bounded memory and time.

Why: qpdf decompresses a PDF's object and cross-reference streams in full before anything
can look at them, and a 1 MB PDF can decompress to gigabytes (an "object stream bomb");
libheif learns a photo's real size only by decoding it. No check we could make beforehand
sees every way to hide a bomb. A forked child with an address-space and CPU-time limit
turns that, or a parser that hangs or crashes, into a refusal with a message instead of a
web worker killed mid-request. Forking costs about a millisecond; handing back the result
through an in-memory file (memfd: RAM, never the disk) costs about one copy of it.

The child hands back the scrubbed bytes or its refusal (TiplineError); any other exception
comes back as a RuntimeError carrying the child's traceback, so a bug is still a bug (the
registry turns it into a refusal; the fuzz tests see it).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import resource
import selectors
import signal
import time
import traceback
from collections.abc import Callable

from tipline.errors import TiplineError

_PR_SET_DUMPABLE = 4
_RESULT = b"R"  # then 8 bytes of length and the scrubbed bytes
_OUTCOME = b"P"  # then a pickled (kind, value): a refusal, exhaustion or a failure


class Exhausted(Exception):
    """The child ran out of memory or time, or was killed."""


def run_bounded(
    work: Callable[[bytes], bytes],
    data: bytes,
    *,
    memory: int,
    cpu_seconds: int,
    wall_seconds: float,
) -> bytes:
    """``work(data)`` in a child allowed ``memory`` more bytes than the parent maps now."""
    if not hasattr(os, "memfd_create") or not os.path.exists("/proc/self/statm"):
        return work(data)  # not Linux: the in-process caps still apply
    result = os.memfd_create("tipline-scrub", os.MFD_CLOEXEC)
    try:
        done_read, done_write = os.pipe()  # closed by the child's exit: the parent's clock
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; its outcome is checked in the parent
            _child(work, data, result, done_read, memory, cpu_seconds)
        os.close(done_write)
        try:
            finished = _wait_for_exit(done_read, time.monotonic() + wall_seconds)
        finally:
            os.close(done_read)
            _reap(pid)
        if not finished:
            raise Exhausted
        return _outcome(result)
    finally:
        os.close(result)


def _outcome(result: int) -> bytes:
    size = os.fstat(result).st_size
    head = os.pread(result, 9, 0)
    if head[:1] == _RESULT and len(head) == 9:
        length = int.from_bytes(head[1:9], "big")
        if size == 9 + length:
            return os.pread(result, length, 9)
    elif head[:1] == _OUTCOME:
        try:
            kind, value = pickle.loads(os.pread(result, size - 1, 1))  # noqa: S301 - our child
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise Exhausted from exc
        if kind == "refused":
            raise value
        if kind == "failed":
            raise RuntimeError(f"scrubber failed in its sandbox:\n{value}")
    raise Exhausted  # killed (memory, CPU time) before it answered, or while answering


def _child(
    work: Callable[[bytes], bytes],
    data: bytes,
    result: int,
    done_read: int,
    memory: int,
    cpu_seconds: int,
) -> None:  # pragma: no cover - runs in the forked child
    status = 1
    try:
        os.close(done_read)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _no_core_dump()
        limit = _address_space() + memory
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
        try:
            cleaned = work(data)
            _write(result, _RESULT + len(cleaned).to_bytes(8, "big"))
            _write(result, cleaned)
        except TiplineError as refusal:
            _write(result, _OUTCOME + pickle.dumps(("refused", refusal)))
        except MemoryError:
            _write(result, _OUTCOME + pickle.dumps(("exhausted", None)))
        except Exception:  # noqa: BLE001 - reported to the parent as a failure, not hidden
            _write(result, _OUTCOME + pickle.dumps(("failed", traceback.format_exc())))
        status = 0
    finally:
        os._exit(status)


def _write(fd: int, data: bytes) -> None:  # pragma: no cover - runs in the forked child
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _address_space() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _no_core_dump() -> None:  # pragma: no cover - runs in the forked child
    """A child killed for CPU time (SIGXCPU) or crashing would dump core by default, and its
    memory is a copy of the web worker's: tips in clear, before they are sealed."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Not dumpable at all, even when cores go to a program (core_pattern "|…").
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def _wait_for_exit(done: int, deadline: float) -> bool:
    """True once the child has exited (its end of the pipe closes), False at the deadline."""
    with selectors.DefaultSelector() as selector:
        selector.register(done, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return False
            if not os.read(done, 4096):
                return True


def _reap(pid: int) -> None:
    """The child has exited or run out of time: make sure it is gone, and collect it."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:  # pragma: no cover - already collected elsewhere
        return
    os.waitpid(pid, 0)
