"""gunicorn, configured in code so no access log (client addresses) is ever written."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


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


def run_gunicorn(bind: str, workers: int, **extra: Any) -> None:
    options = {
        "bind": bind,
        "workers": workers,
        "accesslog": None,  # the access log's first field is the client address
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "tipline-web",
        "graceful_timeout": 20,
        **extra,
    }
    _Gunicorn(options).run()
