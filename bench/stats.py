"""Statistics at scale, on PostgreSQL: the rollup, the months' releases, and the answers
cut from them, over 1,000,000 (or 10,000,000) tips.

The tips are seeded with bench/queue.py's bulk path (COPY; routed like real tips, a year
of received times, statuses, dispositions, triage and close times). Then:

1. the rollup is built from them by ``tipline stats repair``'s function (its time is the
   repair command's time over that many tips);
2. each of the last twelve whole months is released (counted from the rollup, protected,
   audited, recorded): the time per month, the numbers, how many are withheld and how
   many the audit added; the share of zone × category × month cells published;
3. the answers are timed in process, as the API, the CLI and the dashboard run them,
   --repeat times after a warm-up: the dashboard page itself (through the Flask app, a
   signed-in supervisor), a zone × category × month CSV for the year, a zone GeoJSON;
   p50 and p99 are printed (target: p50 ≤ 200 ms at 10 M);
4. a year of daily exports (365 answers of the year to date): the ledger's size before
   and after, which should not grow with exports.

    python bench/stats.py [--tips 1000000] [--repeat 30] [--postgres DSN] [--keep-db]

Creates and drops its own database; needs Redis on 127.0.0.1:6379 for the signed-in page.
"""

from __future__ import annotations

import argparse
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder would come first on sys.path, and bench/queue.py
# would then stand in for the standard library's queue module: take the folder out.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench.queue import Account, seed  # noqa: E402 - after the path is set


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tips", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--postgres", default="host=127.0.0.1 port=5432 dbname=test user=postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    import psycopg
    import pyotp
    from sqlalchemy import func, select, text

    from tipline.app import create_app
    from tipline.crypto import KdfProfile, generate_private_key
    from tipline.crypto import recovery as rk
    from tipline.db import transaction
    from tipline.keyring import add_staff, ensure_unit
    from tipline.migrate import upgrade
    from tipline.models import StatsRelease, StatsReleaseTable
    from tipline.models.base import utcnow
    from tipline.runtime import Runtime
    from tipline.settings import Settings
    from tipline.stats import ledger, periods, rollup, tables
    from tipline.stats.catalogue import Table
    from tipline.stats.export import render
    from tipline.stats.request import parse
    from tipline.stats.scheduling import ended_months

    dbname = f"tipline_bench_{uuid.uuid4().hex[:10]}"
    params = dict(p.split("=", 1) for p in args.postgres.split())
    host, port, user = (
        params.get("host", "127.0.0.1"),
        params.get("port", "5432"),
        params.get("user", "postgres"),
    )
    url = f"postgresql+psycopg://{user}@{host}:{port}/{dbname}"
    dsn = f"host={host} port={port} dbname={dbname} user={user}"
    with psycopg.connect(args.postgres, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    workdir = Path(tempfile.mkdtemp(prefix="tipline-bench-"))
    (workdir / "keys").mkdir()
    recovery = generate_private_key()
    rk.write_public(workdir / "keys", recovery.public_key)
    settings = Settings(
        data_dir=workdir / "data",
        config_dir=ROOT / "config",
        keys_dir=workdir / "keys",
        database_url=url,
        redis_url=args.redis,
        public_url="http://127.0.0.1:8000",
        secret_key=secrets.token_bytes(32),
        relay_key=secrets.token_bytes(32),
        pepper=secrets.token_bytes(32),
        redis_prefix=f"tlbench-{uuid.uuid4().hex[:8]}",
        kdf=KdfProfile.for_tests(),
    )
    runtime = Runtime(settings)
    try:
        upgrade(runtime.engine)
        config = runtime.config
        with transaction(runtime.sessions) as session:
            units = {
                spec.slug: ensure_unit(session, spec.slug, spec.name, recovery.public_key)
                for spec in config.units.values()
            }
            accounts = []
            for name in ("investigator", "supervisor"):
                made = add_staff(session, f"{name}@bench.test", name, settings.kdf)
                account = Account(name, made.staff.email, made.password, made.totp_secret)
                account.staff_id = made.staff.id
                accounts.append(account)
            unit_ids = {slug: unit.id for slug, unit in units.items()}
        print(f"seeding {args.tips:,} tips into {dbname}", flush=True)
        seeded = seed(dsn, config, unit_ids, accounts[0], accounts[1], args.tips, random.Random(1))
        print(f"seeded {seeded['tips']:,.0f} tips in {seeded['load_seconds']:.1f} s", flush=True)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE tips")

        # 1. The rollup, from the tips: tipline stats repair.
        t0 = time.perf_counter()
        with transaction(runtime.sessions) as session:
            repaired = rollup.repair(session)
        repair_seconds = time.perf_counter() - t0
        with runtime.sessions() as session:
            rollup_rows = session.scalar(text("SELECT count(*) FROM stats_rollup"))
        print(
            f"\nrollup built by `tipline stats repair`: {repair_seconds:.1f} s, "
            f"{rollup_rows:,} rows for {repaired.tips_counted:,} routed tips"
        )

        # 2. A year of releases.
        months = ended_months(utcnow(), ZoneInfo(settings.timezone), 12)
        print(f"\n{'month':8} {'seconds':>8} {'numbers':>8} {'withheld':>8} {'by audit':>8}")
        release_seconds = []
        for month in months:
            t0 = time.perf_counter()
            with transaction(runtime.sessions) as session:
                release = ledger.ensure(session, config, settings, [month])[month]
            elapsed = time.perf_counter() - t0
            release_seconds.append(elapsed)
            print(
                f"{month:%Y-%m}  {elapsed:>8.2f} {release.published:>8,} {release.withheld:>8,}"
                f" {release.by_audit:>8,}",
                flush=True,
            )
        last = months[-1]
        with runtime.sessions() as session:
            zc_tables = ledger.read(
                session, ledger.made(session, months), [Table(("zone", "category"), "month")]
            )
        listed = shown = 0
        for released in zc_tables.values():
            for cells in released.tables.values():
                listed += len(cells)
                shown += sum(1 for count, _ in cells.values() if count is not None)
        print(
            f"zone × category × month, a year: {shown:,} of {listed:,} listed cells published "
            f"({100 * shown / max(listed, 1):.1f} %); releases took {sum(release_seconds):.1f} s "
            f"(median {statistics.median(release_seconds):.2f} s a month)"
        )

        # 3. Answers, as the dashboard, the API and the CLI cut them.
        app = create_app(runtime=runtime)
        client = app.test_client()
        login = client.get("/staff/login")
        token = (
            login.get_data(as_text=True).split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        )
        client.post(
            "/staff/login",
            data={
                "csrf_token": token,
                "email": accounts[1].email,
                "password": accounts[1].password,
                "totp": pyotp.TOTP(accounts[1].totp_secret).now(),
            },
        )
        first = months[0]
        year = (first.isoformat(), periods.month_end(last).isoformat())

        def page() -> int:
            response = client.get(f"/staff/stats?from={first:%Y-%m}&to={last:%Y-%m}")
            assert response.status_code == 200, response.status_code
            return len(response.data)

        def export(by: str, fmt: str) -> int:
            with transaction(runtime.sessions) as session:
                answer = tables.answer(
                    session, config, settings, parse(by, "month", *year, fmt, last_month=last)
                )
            rendered, _ = render(answer, fmt, config)
            return len(rendered)

        cases = [
            ("dashboard page (5 charts, a year)", page),
            ("zone × category × month CSV, a year", lambda: export("zone,category,period", "csv")),
            ("zone GeoJSON, a year", lambda: export("zone", "geojson")),
            ("category × disposition JSON, a year", lambda: export("category,disposition", "json")),
        ]
        print(f"\n{'answer':40} {'p50':>8} {'p99':>8} {'size':>8}")
        worst = 0.0
        for label, run in cases:
            run()  # warm
            timings = []
            size = 0
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                size = run()
                timings.append(time.perf_counter() - t0)
            p50 = _percentile(timings, 0.5)
            worst = max(worst, p50)
            print(
                f"{label:40} {1000 * p50:>6.0f}ms {1000 * _percentile(timings, 0.99):>6.0f}ms"
                f" {size / 1024:>6.0f}KB"
            )
        print(f"target p50 ≤ 200 ms: {'MET' if worst <= 0.2 else 'NOT MET'}")

        # 4. A year of daily exports: the ledger does not grow with them.
        def ledger_size() -> tuple[int, int]:
            with runtime.sessions() as session:
                rows = session.scalar(select(func.count()).select_from(StatsReleaseTable)) or 0
                size = session.scalar(
                    text(
                        "SELECT pg_total_relation_size('stats_release_tables') + "
                        "pg_total_relation_size('stats_releases')"
                    )
                )
                releases = session.scalar(select(func.count()).select_from(StatsRelease)) or 0
            return rows + releases, int(size or 0)

        before = ledger_size()
        t0 = time.perf_counter()
        for _ in range(365):
            export("zone,category,period", "csv")
        daily = time.perf_counter() - t0
        after = ledger_size()
        print(
            f"\nledger after a year of releases: {before[0]:,} rows, {before[1] / 1024:,.0f} KB; "
            f"after 365 more exports: {after[0]:,} rows, {after[1] / 1024:,.0f} KB "
            f"({daily:.1f} s for the 365)"
        )
        return 0
    finally:
        runtime.close()
        if not args.keep_db:
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
