"""The worker process's runtime, built once from the environment on first use."""

from __future__ import annotations

from tipline.runtime import Runtime
from tipline.settings import load_settings

_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime(load_settings())
    return _runtime


def set_runtime(runtime: Runtime | None) -> None:
    """Used by `tipline worker`, which has already built and validated its settings."""
    global _runtime
    _runtime = runtime
