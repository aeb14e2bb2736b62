"""gunicorn, configured in code so no client address is ever written.

The access log is off (its first field is the client address), and the error log goes
through a filter: gunicorn logs "Invalid request from ip=…" for malformed requests.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

_GUNICORN_IP = re.compile(r"ip=\S*?:(?=\s|$)")
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")


class RedactAddresses(logging.Filter):
    """Replace anything that looks like a client address in a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Listening at:"):  # our own bind address, not a client's
            return True
        redacted = _IPV4.sub("[address]", _GUNICORN_IP.sub("ip=[address]:", message))
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class RedactingLogger(Logger):  # type: ignore[misc]
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.addFilter(RedactAddresses())


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):  # type: ignore[no-untyped-def]
        from tipline.app import create_app

        return create_app()


def gunicorn_options(bind: str, workers: int, **extra: Any) -> dict[str, Any]:
    return {
        "bind": bind,
        "workers": workers,
        "accesslog": None,  # the access log's first field is the client address
        "errorlog": "-",
        "loglevel": "info",
        "logger_class": RedactingLogger,
        "proc_name": "tipline-web",
        "graceful_timeout": 20,
        # gunicorn 27's control socket lives in ~/.gunicorn, shared by every instance of
        # the user; we do not use it.
        "control_socket_disable": True,
        **extra,
    }


def run_gunicorn(bind: str, workers: int, **extra: Any) -> None:
    _Gunicorn(gunicorn_options(bind, workers, **extra)).run()
