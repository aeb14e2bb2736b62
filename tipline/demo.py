"""`tipline demo`: the embedded default, from nothing to a working tip line in one command.

Creates the data directory, secrets, a demo recovery key, the database, units and demo
staff; starts the bundled Redis, a worker, the scheduler and the web server; stops them
all, in order, on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from tipline.settings import SECRET_FILE, generate_secrets

CREDENTIALS_FILE = "demo-credentials.json"
RECOVERY_FILE = "demo-recovery-key.txt"
DEMO_ACCOUNTS = (
    # (email, role, units: "*" = every unit)
    ("investigator@demo.tipline", "investigator", "*"),
    ("north@demo.tipline", "investigator", ("on-north-general",)),
    ("supervisor@demo.tipline", "supervisor", "*"),  # decides rewards
)


def _write_private(path: Path, text: str) -> None:
    """Write a secret file readable by us only; never through a planted symlink."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _data_dir() -> Path:
    return Path(os.environ.get("TIPLINE_DATA_DIR") or "./var").resolve()


def prepare(data_dir: Path) -> dict[str, str]:
    """Create whatever is missing; returns the environment for the child processes."""
    from tipline.crypto import generate_private_key
    from tipline.crypto import recovery as rk

    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    secrets_path = data_dir / SECRET_FILE
    if not secrets_path.exists():
        _write_private(secrets_path, "".join(f"{k}={v}\n" for k, v in generate_secrets().items()))
    from dotenv import dotenv_values

    # The children read .env too: merge it now so setup and servers agree.
    env = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    env.update(os.environ)
    env["TIPLINE_DATA_DIR"] = str(data_dir)
    # Demo keys live with the demo data, never where a real recovery key belongs.
    env["TIPLINE_KEYS_DIR"] = str(data_dir / "keys")
    keys_dir = Path(env["TIPLINE_KEYS_DIR"])
    if not (keys_dir / rk.PUBLIC_FILE).exists():
        key = generate_private_key()
        rk.write_public(keys_dir, key.public_key)
        _write_private(data_dir / RECOVERY_FILE, rk.encode_private(key) + "\n")
    return env


def _bootstrap(env: dict[str, str]) -> list[dict[str, str]]:
    """Migrate, create units and demo staff. Returns newly created credentials."""
    from sqlalchemy import select

    from tipline.crypto import recovery as rk
    from tipline.db import transaction
    from tipline.keyring import add_staff, ensure_unit, grant_unit, unit_key_from_recovery
    from tipline.migrate import upgrade
    from tipline.models import Staff, Unit
    from tipline.runtime import Runtime
    from tipline.settings import load_settings

    settings = load_settings(env)
    runtime = Runtime(settings)
    upgrade(runtime.engine)
    created: list[dict[str, str]] = []
    recovery = rk.decode_private((settings.data_dir / RECOVERY_FILE).read_text())
    with transaction(runtime.sessions) as session:
        units = [
            ensure_unit(session, s.slug, s.name, runtime.recovery_public)
            for s in runtime.config.units.values()
        ]
        for email, role, wanted in DEMO_ACCOUNTS:
            if session.scalars(select(Staff).where(Staff.email == email)).first() is not None:
                continue
            account = add_staff(session, email, role, settings.kdf)
            for unit in units if wanted == "*" else [u for u in units if u.slug in wanted]:
                grant_unit(
                    session,
                    account.staff,
                    unit,
                    unit_key=unit_key_from_recovery(session, unit, recovery),
                )
            created.append(
                {"email": email, "password": account.password, "totp_secret": account.totp_secret,
                 "units": "all units" if wanted == "*" else ", ".join(wanted)}
            )  # fmt: skip
        del session
    del Unit
    runtime.close()
    if created:
        path = settings.data_dir / CREDENTIALS_FILE
        existing = json.loads(path.read_text()) if path.exists() else []
        _write_private(path, json.dumps(existing + created, indent=2))
    return created


def current_code(email: str) -> str:
    import pyotp

    path = _data_dir() / CREDENTIALS_FILE
    if not path.exists():
        raise KeyError(f"no demo credentials at {path}: run `tipline demo` first")
    for account in json.loads(path.read_text()):
        if account["email"] == email:
            return pyotp.TOTP(account["totp_secret"]).now()
    raise KeyError(f"{email} is not a demo account")


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if `tipline demo` dies (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Own process group: Ctrl-C reaches only us, and we stop the children in order;
    # and if we are killed outright, the kernel stops them (PDEATHSIG).
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "tipline.cli", *args],
        env=env,
        start_new_session=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads exist at this point
    )


def _stop_children(children: list[subprocess.Popen[bytes]], timeout: float = 20) -> None:
    for child in reversed(children):  # web first, then scheduler, then worker
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in reversed(children):
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            # The whole group: gunicorn's workers too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def run_demo(host: str, port: int) -> int:
    from tipline.embedded_redis import EmbeddedRedis

    data_dir = _data_dir()
    env = prepare(data_dir)
    children: list[subprocess.Popen[bytes]] = []
    bundled = None
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        if stopping and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop waiting politely
        stopping = True

    # Handlers first: a signal at any later moment still reaches the cleanup below.
    previous = {
        sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        if not env.get("TIPLINE_REDIS_URL"):
            bundled = EmbeddedRedis(data_dir / "redis")
            bundled.start()
            env["TIPLINE_REDIS_URL"] = bundled.url
        created = [] if stopping else _bootstrap(env)
        if not stopping:
            children.append(_spawn(["worker"], env))
            children.append(_spawn(["scheduler"], env))
            children.append(_spawn(["serve", "--bind", f"{host}:{port}", "--workers", "2"], env))
            _announce(data_dir, host, port, created)
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    click.echo(
                        f"a demo process exited ({child.args[3]}, code {child.returncode}); stopping",
                        err=True,
                    )
                    stopping = True
            time.sleep(0.2)
    finally:
        _stop_children(children)
        if bundled is not None:
            bundled.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        click.echo("demo stopped")
    return 0


def _announce(data_dir: Path, host: str, port: int, created: list[dict[str, str]]) -> None:
    url = f"http://{host}:{port}"
    click.echo("")
    click.echo(f"Tipline demo is running: tip form {url}/tip   staff {url}/staff/login")
    if created:
        click.echo(
            "Demo staff accounts (shown once; also in %s, mode 0600):"
            % (data_dir / CREDENTIALS_FILE)
        )
        for account in created:
            click.echo(
                f"  {account['email']}  password {account['password']}  ({account['units']})"
            )
            click.echo(f"    TOTP secret {account['totp_secret']}")
    else:
        click.echo(f"Demo staff credentials: {data_dir / CREDENTIALS_FILE}")
    click.echo("Sign-in code for a demo account: tipline demo totp EMAIL")
    click.echo("Press Ctrl-C to stop.")
