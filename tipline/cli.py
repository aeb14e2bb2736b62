"""The ``tipline`` command. Each subcommand parses options and calls one function."""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from tipline.settings import Settings, SettingsError, load_settings


def _settings(require_secrets: bool = True) -> Settings:
    try:
        return load_settings(require_secrets=require_secrets)
    except SettingsError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc


def _runtime(require_secrets: bool = True):  # type: ignore[no-untyped-def]
    from tipline.runtime import Runtime

    return Runtime(_settings(require_secrets))


def _zone(runtime):  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return ZoneInfo(runtime.settings.timezone)


@contextmanager
def _usage_errors() -> Iterator[None]:
    """Bad input is a usage error: its one-line message and exit code 2."""
    from tipline.errors import InvalidInput

    try:
        yield
    except InvalidInput as exc:
        raise click.UsageError(str(exc)) from exc


@contextmanager
def _ledger_errors() -> Iterator[None]:
    """The database (and with it the statistics ledger) unreachable: say so in one line,
    exit 2, and publish nothing."""
    from sqlalchemy.exc import OperationalError

    from tipline.errors import InvalidInput, ServiceUnavailable

    try:
        yield
    except InvalidInput as exc:
        raise click.UsageError(str(exc)) from exc
    except ServiceUnavailable as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(1) from exc
    except OperationalError as exc:
        click.echo(
            f"Error: the database cannot be reached ({type(exc.orig).__name__}); nothing "
            "was published. Check TIPLINE_DATABASE_URL and that the database is up.",
            err=True,
        )
        raise SystemExit(2) from exc


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # twilio's client logs every request at INFO: message SIDs, which name a tipster's
    # texts at Twilio. Our own code logs them at DEBUG only.
    logging.getLogger("twilio").setLevel(logging.WARNING)


@click.group()
def main() -> None:
    """Tipline: anonymous tips by SMS and web, sealed at rest, routed by zone and category."""


# --- demo -------------------------------------------------------------------------------


@main.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.pass_context
def demo(ctx: click.Context, host: str, port: int) -> None:
    """Run everything locally: SQLite + bundled Redis, web, worker and scheduler."""
    if ctx.invoked_subcommand is not None:
        return
    from tipline.demo import run_demo

    _logging()
    sys.exit(run_demo(host=host, port=port))


@demo.command("totp")
@click.argument("email")
def demo_totp(email: str) -> None:
    """Print the current sign-in code of a demo account (demo data directory only)."""
    from tipline.demo import current_code

    try:
        click.echo(current_code(email))
    except KeyError as exc:
        raise click.ClickException(str(exc)) from exc


# --- db ---------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply Alembic migrations up to the newest schema."""
    from tipline.migrate import upgrade

    runtime = _runtime(require_secrets=False)
    upgrade(runtime.engine)
    click.echo("database is up to date")
    runtime.close()


# --- config -----------------------------------------------------------------------------


@main.group()
def config() -> None:
    """Zones, categories and routing rules."""


@config.command("check")
def config_check() -> None:
    """Validate config/ and print what each zone × category routes to."""
    from rich.console import Console
    from rich.table import Table

    from tipline.triage.config import ConfigError, load_config
    from tipline.triage.routing import routing_summary

    settings = _settings(require_secrets=False)
    try:
        cfg = load_config(settings.config_dir)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    console = Console()
    console.print(
        f"{settings.config_dir}: {len(cfg.provinces)} provinces, {len(cfg.zones)} zones, "
        f"{len(cfg.categories)} categories, {len(cfg.units)} units, {len(cfg.rules)} rules"
    )
    table = Table("zone", "category", "primary unit", "info only")
    for zone, category, primary, info in routing_summary(cfg):
        table.add_row(zone, category, primary, ", ".join(info))
    console.print(table)
    policy = cfg.policy
    console.print(
        "first triage within (hours): "
        + ", ".join(f"{p} {h}" for p, h in policy.first_triage_hours.items())
    )
    console.print(
        "closed tips kept (days): "
        + ", ".join(f"{d} {n}" for d, n in policy.retention_days.items())
    )


@main.group()
def stats() -> None:
    """Aggregate statistics (suppressed)."""


@stats.command("export")
@click.option(
    "--by",
    "by",
    default="zone,category",
    show_default=True,
    help="Grouping keys, comma-separated (period, zone, province, category, status, "
    "disposition, priority, channel).",
)
@click.option("--period", default="month", show_default=True, help="day, week or month")
@click.option("--from", "start", default=None, help="First day of a period (YYYY-MM-DD).")
@click.option("--to", "end", default=None, help="Last day of a period, included (YYYY-MM-DD).")
@click.option("--format", "fmt", default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
def stats_export(
    by: str, period: str, start: str | None, end: str | None, fmt: str, output: Path | None
) -> None:
    """Suppressed statistics of every unit, as CSV, JSON or GeoJSON (audited)."""
    from rich.console import Console

    from tipline.db import transaction
    from tipline.models.base import utcnow
    from tipline.stats import periods
    from tipline.stats import request as stats_request
    from tipline.stats.export import export

    runtime = _runtime(require_secrets=True)
    last_month = periods.last_released_month(utcnow(), _zone(runtime))
    with _usage_errors():
        wanted = stats_request.parse(by, period, start, end, fmt, last_month=last_month)
    console = Console(stderr=True)
    with console.status("counting…"), _ledger_errors(), transaction(runtime.sessions) as session:
        text, _ = export(session, runtime.config, runtime.settings, wanted, actor="cli")
    if output:
        output.write_text(text, encoding="utf-8")
        console.print(f"written to {output}")
    else:
        click.echo(text, nl=False)
    runtime.close()


@stats.command("release")
@click.option("--months", default=24, show_default=True, help="How many ended months to check.")
def stats_release(months: int) -> None:
    """Make the releases of ended months that have none yet (the scheduler does it too)."""
    from tipline.models.base import utcnow
    from tipline.stats import scheduling

    runtime = _runtime(require_secrets=True)
    with _ledger_errors():
        made = scheduling.release_ended_months(runtime, utcnow(), months)
    click.echo(
        "released: " + ", ".join(m.strftime("%Y-%m") for m in made)
        if made
        else f"every one of the last {months} ended months is already released"
    )
    runtime.close()


@stats.command("repair")
@click.option("--check", is_flag=True, help="Only compare; exit 1 if the rollup is wrong.")
def stats_repair(check: bool) -> None:
    """Rebuild the statistics rollup from the tips, and report any difference."""
    import time

    from tipline.db import transaction
    from tipline.stats import rollup

    runtime = _runtime()
    started = time.perf_counter()
    with _ledger_errors(), transaction(runtime.sessions) as session:
        found = rollup.repair(session, fix=not check)
    seconds = time.perf_counter() - started
    if found.keys_wrong:
        verb = "differ" if check else "differed, now rebuilt from the tips"
        click.echo(
            f"{found.keys_wrong} of {found.keys_checked} rollup rows {verb} "
            f"({found.tips_off} tips off; {found.tips_counted} tips counted; {seconds:.1f} s)"
        )
    else:
        click.echo(
            f"the rollup matches the tips: {found.keys_checked} rows, "
            f"{found.tips_counted} tips counted ({seconds:.1f} s)"
        )
    runtime.close()
    if check and found.keys_wrong:
        raise SystemExit(1)


# --- keys, units, staff -----------------------------------------------------------------


@main.group()
def keys() -> None:
    """The recovery key and unit keys."""


@keys.command("init")
@click.option("--force", is_flag=True, help="Replace an existing recovery key (dangerous).")
@click.option(
    "--private-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the private half to this file (mode 0600) instead of only printing it.",
)
def keys_init(force: bool, private_out: Path | None) -> None:
    """Create the recovery keypair: public half into keys/, private half shown once."""
    from tipline.crypto import generate_private_key
    from tipline.crypto import recovery as rk

    settings = _settings(require_secrets=False)
    target = settings.keys_dir / rk.PUBLIC_FILE
    if target.exists() and not force:
        raise click.ClickException(
            f"{target} already exists; a new recovery key would orphan every tip sealed to "
            "the old one. Use --force only if you mean it."
        )
    key = generate_private_key()
    path = rk.write_public(settings.keys_dir, key.public_key)
    click.echo(f"recovery public key written to {path}")
    if private_out:
        _write_private(private_out, rk.encode_private(key) + "\n")
        click.echo(f"recovery PRIVATE key written to {private_out} (mode 0600): move it offline")
    else:
        click.echo("\nRECOVERY PRIVATE KEY — shown once. Store it offline (paper, safe, HSM):\n")
        click.echo(rk.encode_private(key))
        click.echo("\nAnyone holding it can read every tip. It is not stored anywhere.")


@keys.command("rotate")
@click.option("--unit", "slug", required=True, help="The unit whose key to replace.")
@click.option(
    "--recovery-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The recovery private key (or TIPLINE_RECOVERY_KEY_FILE, or paste when asked).",
)
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 10_000))
@click.option(
    "--settle-seconds",
    default=None,
    type=click.FloatRange(0, 3600),
    help="Wait before the final pass, for web servers to pick up the new key "
    "(default: their cache time).",
)
def keys_rotate(
    slug: str, recovery_key_file: Path | None, batch: int, settle_seconds: float | None
) -> None:
    """New key version for UNIT; re-seal its tips' keys to it (resumes if interrupted)."""
    import time

    from rich.progress import Progress as Bar

    from tipline import rotation
    from tipline.db import transaction
    from tipline.keyring import UNIT_KEY_CACHE_SECONDS, KeyringError

    runtime = _runtime(require_secrets=False)
    recovery = _recovery_private(recovery_key_file)
    settle = UNIT_KEY_CACHE_SECONDS if settle_seconds is None else settle_seconds
    try:
        with transaction(runtime.sessions) as session:
            unit = rotation.unit_by_slug(session, slug)
            if rotation.in_progress(session, unit):
                version = unit.key_version
                click.echo(f"resuming the rotation of {slug} to key version {version}")
            else:
                version = rotation.start(session, unit, recovery)
                click.echo(f"{slug}: new key version {version}, sealed to every member")
        with transaction(runtime.sessions) as session:
            unit = rotation.unit_by_slug(session, slug)
            old_keys = rotation.old_unit_keys(session, unit, recovery)
            state = rotation.progress(session, unit)

        def reseal_all(bar: Bar, task: object) -> None:
            while True:
                with transaction(runtime.sessions) as session:
                    unit = rotation.unit_by_slug(session, slug)
                    done = rotation.reseal_batch(session, unit, old_keys, batch)
                bar.advance(task, done)  # type: ignore[arg-type]
                if done == 0:
                    return

        with Bar() as bar:
            task = bar.add_task(f"re-sealing {slug}", total=state.total, completed=state.done)
            reseal_all(bar, task)
            # Web servers cache unit keys briefly: tips taken meanwhile may still be sealed
            # to the old version. Wait that long, then catch them.
            time.sleep(settle)
            with transaction(runtime.sessions) as session:
                bar.update(task, total=rotation.progress(session, unit).total)  # type: ignore[arg-type]
            reseal_all(bar, task)
        with transaction(runtime.sessions) as session:
            unit = rotation.unit_by_slug(session, slug)
            rotation.finish(session, unit)
            final = rotation.progress(session, unit)
    except KeyringError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{slug}: {final.done} tip(s) sealed to key version {version}; "
        "older versions' grants and memberships deleted"
    )
    runtime.close()


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _recovery_private(path: Path | None):  # type: ignore[no-untyped-def]
    from tipline.crypto import CryptoError
    from tipline.crypto import recovery as rk

    source = path or (
        Path(os.environ["TIPLINE_RECOVERY_KEY_FILE"])
        if os.environ.get("TIPLINE_RECOVERY_KEY_FILE")
        else None
    )
    text = source.read_text() if source else click.prompt("Recovery private key", hide_input=True)
    try:
        return rk.decode_private(text)
    except CryptoError as exc:
        raise click.ClickException(str(exc)) from exc


@main.group()
def units() -> None:
    """Units (queues and key compartments)."""


@units.command("sync")
def units_sync() -> None:
    """Create every unit named in config/units.yaml that the database lacks, with its key."""
    from tipline.db import transaction
    from tipline.keyring import ensure_unit

    runtime = _runtime(require_secrets=False)
    with transaction(runtime.sessions) as session:
        for spec in runtime.config.units.values():
            ensure_unit(session, spec.slug, spec.name, runtime.recovery_public)
    click.echo(f"{len(runtime.config.units)} units present")
    runtime.close()


@main.group()
def staff() -> None:
    """Staff accounts."""


@staff.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["investigator", "supervisor", "admin"]), required=True)
@click.option("--unit", "unit_slugs", multiple=True, help="Unit slug; repeatable.")
@click.option(
    "--recovery-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Needed to grant units (or set TIPLINE_RECOVERY_KEY_FILE, or paste when asked).",
)
def staff_add(
    email: str, role: str, unit_slugs: tuple[str, ...], recovery_key_file: Path | None
) -> None:
    """Create an account; prints a one-time password and a TOTP provisioning URI."""
    import pyotp
    from sqlalchemy import select

    from tipline.db import transaction
    from tipline.keyring import KeyringError, add_staff, grant_unit, unit_key_from_recovery
    from tipline.models import Unit

    runtime = _runtime(require_secrets=False)
    recovery = _recovery_private(recovery_key_file) if unit_slugs else None
    try:
        with transaction(runtime.sessions) as session:
            units_found = {
                u.slug: u for u in session.scalars(select(Unit).where(Unit.slug.in_(unit_slugs)))
            }
            unknown = sorted(set(unit_slugs) - set(units_found))
            if unknown:
                raise KeyringError(
                    f"unknown unit(s): {', '.join(unknown)} (run `tipline units sync`?)"
                )
            created = add_staff(session, email, role, runtime.settings.kdf)
            for slug in unit_slugs:
                unit = units_found[slug]
                grant_unit(
                    session,
                    created.staff,
                    unit,
                    unit_key=unit_key_from_recovery(session, unit, recovery),
                )
    except KeyringError as exc:
        raise click.ClickException(str(exc)) from exc
    uri = pyotp.TOTP(created.totp_secret).provisioning_uri(
        name=created.staff.email, issuer_name="Tipline"
    )
    click.echo(
        f"created {role} {created.staff.email}"
        + (f" in {', '.join(unit_slugs)}" if unit_slugs else "")
    )
    click.echo(f"one-time password: {created.password}")
    click.echo(f"TOTP provisioning URI (add it to an authenticator app): {uri}")
    runtime.close()


@staff.command("grant")
@click.argument("email")
@click.option("--unit", "unit_slugs", multiple=True, required=True, help="Unit slug; repeatable.")
@click.option(
    "--recovery-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The recovery private key (or TIPLINE_RECOVERY_KEY_FILE, or paste when asked).",
)
def staff_grant(email: str, unit_slugs: tuple[str, ...], recovery_key_file: Path | None) -> None:
    """Make an existing account a member of units, with the recovery key (when no member
    of the unit can do it from the Units page)."""
    from sqlalchemy import select

    from tipline.crypto import CryptoError
    from tipline.db import transaction
    from tipline.keyring import KeyringError, grant_unit, unit_key_from_recovery
    from tipline.models import Staff, Unit

    runtime = _runtime(require_secrets=False)
    recovery = _recovery_private(recovery_key_file)
    try:
        with transaction(runtime.sessions) as session:
            member = session.scalars(
                select(Staff).where(Staff.email == email.strip().lower(), Staff.active.is_(True))
            ).first()
            if member is None:
                raise KeyringError(f"no active account for {email}")
            found = {
                u.slug: u for u in session.scalars(select(Unit).where(Unit.slug.in_(unit_slugs)))
            }
            unknown = sorted(set(unit_slugs) - set(found))
            if unknown:
                raise KeyringError(f"unknown unit(s): {', '.join(unknown)}")
            for slug in unit_slugs:
                try:
                    key = unit_key_from_recovery(session, found[slug], recovery)
                except CryptoError:
                    raise KeyringError("that is not this deployment's recovery key") from None
                grant_unit(session, member, found[slug], unit_key=key)
    except KeyringError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{email.strip().lower()} is now a member of {', '.join(unit_slugs)}")
    runtime.close()


# --- processes --------------------------------------------------------------------------


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--check", is_flag=True, help="Exit 0 if a worker of this host is registered.")
def worker(burst: bool, check: bool) -> None:
    """RQ worker (with RQ's scheduler for retries) for the tipline queues."""
    from rq import Queue, SimpleWorker, Worker
    from rq.serializers import JSONSerializer

    import workers.jobs  # noqa: F401  - imported once here, not once per job
    from workers.queues import queue_names
    from workers.runtime import set_runtime

    runtime = _runtime()
    import redis as redis_lib

    # The worker blocks on Redis for minutes at a time: no short socket timeout here.
    connection = redis_lib.Redis.from_url(runtime.settings.effective_redis_url)
    queues = [
        Queue(name, connection=connection, serializer=JSONSerializer)
        for name in queue_names(runtime)
    ]
    if check:
        host = socket.gethostname()
        alive = [w for w in Worker.all(queue=queues[0]) if w.hostname == host]
        sys.exit(0 if alive else 1)
    _logging()
    set_runtime(runtime)
    # Jobs run in this process, one after the other. RQ's default forks a work horse per
    # job, which re-imported the job modules and opened a database connection for every
    # job: 0.65 s a tip, measured under tests/reliability. Our jobs are short and
    # idempotent, and the one hostile part (parsing uploads) already runs in a bounded
    # child process of its own; a worker that dies is restarted by its supervisor and
    # its job comes back through the sweeper.
    rq_worker = SimpleWorker(
        queues,
        connection=connection,
        serializer=JSONSerializer,
        log_job_description=False,  # job arguments are ids, but keep logs free of them anyway
        # Jobs of a killed worker are noticed within this (the sweeper also looks).
        maintenance_interval=runtime.settings.worker_maintenance_seconds,
    )
    # WARNING: rq logs every job id at INFO, each line stamped with an exact time.
    rq_worker.work(with_scheduler=True, burst=burst, logging_level="WARNING")


@main.command()
@click.option("--check", is_flag=True, help="Exit 0 if a scheduler beat within two minutes.")
def scheduler(check: bool) -> None:
    """Run the cron table (outbox sweeper, and later SLA and retention jobs)."""
    from workers import cron

    runtime = _runtime()
    if check:
        sys.exit(0 if runtime.redis.get(cron.heartbeat_key(runtime)) else 1)
    _logging()
    cron.run(runtime)


@main.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", "num_workers", default=2, show_default=True, type=int)
def serve(bind: str, num_workers: int) -> None:
    """Production web server (gunicorn), access log off: it would record addresses."""
    from tipline.server import run_gunicorn

    _settings()  # fail now, with a clear message, rather than in every gunicorn worker
    run_gunicorn(bind=bind, workers=num_workers)


# --- audit ------------------------------------------------------------------------------


@main.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain; exit 1 at the first broken link."""
    from tipline import audit as audit_log
    from tipline.db import transaction

    runtime = _runtime(require_secrets=False)
    with transaction(runtime.sessions) as session:
        broken = audit_log.first_broken_link(session)
        if broken is not None:
            click.echo(
                f"audit log broken at entry {broken.seq} ({broken.action} by {broken.actor})",
                err=True,
            )
            sys.exit(1)
    click.echo("audit log intact")


if __name__ == "__main__":
    main()
