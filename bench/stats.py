"""Statistics at scale: a zone × category × week export for a year over 1,000,000 tips
on PostgreSQL, with the full disclosure control. Target: < 2 s.

The tips are seeded with bench/queue.py's bulk path (COPY; routed like real tips, a year
of received times, statuses, dispositions, triage and close times). Then the export is
timed in process, as `tipline stats export` and GET /api/v1/stats run it: the SQL
aggregation (one GROUP BY with percentile_cont), the suppression and its linear
programming audit, and the rendering (CSV, JSON; GeoJSON by zone). Each case is run
--repeat times after one warm-up; the median and the slowest are printed, with the
split between SQL, suppression and rendering. Finally the CLI itself is timed once,
process start included.

    python bench/stats.py [--tips 1000000] [--repeat 5] [--postgres DSN] [--keep-db]

Creates and drops its own database.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder would come first on sys.path, and bench/queue.py
# would then stand in for the standard library's queue module: take the folder out.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench.queue import Account, seed  # noqa: E402 - after the path is set


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tips", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", default="host=127.0.0.1 port=5432 dbname=test user=postgres")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    from zoneinfo import ZoneInfo

    import psycopg
    from sqlalchemy import create_engine

    from tipline.crypto import KdfProfile, generate_private_key
    from tipline.db import make_sessionmaker, transaction
    from tipline.keyring import add_staff, ensure_unit
    from tipline.migrate import upgrade
    from tipline.models.base import utcnow
    from tipline.stats import aggregate
    from tipline.stats.export import render
    from tipline.stats.request import StatsRequest
    from tipline.stats.suppress import publish
    from tipline.triage.config import load_config

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
    engine = create_engine(url)
    try:
        upgrade(engine)
        config = load_config(ROOT / "config")
        recovery = generate_private_key()
        sessions = make_sessionmaker(engine)
        with transaction(sessions) as session:
            units = {
                spec.slug: ensure_unit(session, spec.slug, spec.name, recovery.public_key)
                for spec in config.units.values()
            }
            accounts = []
            for name in ("investigator", "supervisor"):
                created = add_staff(session, f"{name}@bench.test", name, KdfProfile.for_tests())
                account = Account(name, created.staff.email, created.password, created.totp_secret)
                account.staff_id = created.staff.id
                accounts.append(account)
            unit_ids = {slug: unit.id for slug, unit in units.items()}
        print(f"seeding {args.tips:,} tips into {dbname}", flush=True)
        seeded = seed(dsn, config, unit_ids, accounts[0], accounts[1], args.tips, random.Random(1))
        print(f"seeded {seeded['tips']:,.0f} tips in {seeded['load_seconds']:.1f} s", flush=True)

        tz = ZoneInfo("America/Toronto")
        today = utcnow().astimezone(tz).date()
        year = (today - timedelta(days=364), today + timedelta(days=1))
        cases = [
            ("zone × category × week, a year, CSV", ("zone", "category", "period"), "week", "csv"),
            (
                "zone × category × week, a year, JSON",
                ("zone", "category", "period"),
                "week",
                "json",
            ),
            ("zone, a year, GeoJSON", ("zone",), "week", "geojson"),
            (
                "province × category × month, a year, CSV",
                ("province", "category", "period"),
                "month",
                "csv",
            ),
        ]
        secret = secrets.token_bytes(32)
        print(
            f"\n{'case':44} {'cells':>6} {'withheld':>8} {'median':>8} {'slowest':>8}   SQL / suppress+audit / render (median, s)"
        )
        worst = 0.0
        for label, keys, period, fmt in cases:
            wanted = StatsRequest(keys, period, year[0], year[1], fmt)
            runs = []
            for attempt in range(args.repeat + 1):
                t0 = time.perf_counter()
                with sessions() as session:
                    cells = aggregate.count(session, config, wanted, tz, None)
                t1 = time.perf_counter()
                table = publish(cells, keys, wanted.k, secret=secret)
                t2 = time.perf_counter()
                text, _ = render(table, fmt, config)
                t3 = time.perf_counter()
                if attempt:  # the first run warms caches
                    runs.append((t3 - t0, t1 - t0, t2 - t1, t3 - t2))
            totals = [r[0] for r in runs]
            med = statistics.median(totals)
            worst = max(worst, med)
            split = [statistics.median(r[i] for r in runs) for i in (1, 2, 3)]
            withheld = sum(1 for c in table.cells if c.withheld)
            print(
                f"{label:44} {len(table.cells):>6} {withheld:>8} {med:>7.2f}s {max(totals):>7.2f}s"
                f"   {split[0]:.2f} / {split[1]:.2f} / {split[2]:.2f}   ({len(text) / 1024:.0f} KB)"
            )
        print(
            f"\ntarget < 2 s for zone × category × week over a year: {'MET' if worst < 2 else 'NOT MET'}"
        )

        workdir = Path(tempfile.mkdtemp(prefix="tipline-bench-"))
        (workdir / "keys").mkdir()
        from tipline.crypto import recovery as rk

        rk.write_public(workdir / "keys", recovery.public_key)

        def b64() -> str:
            return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()

        env = dict(os.environ)
        env.update(
            TIPLINE_DATABASE_URL=url, TIPLINE_REDIS_URL="redis://127.0.0.1:6379/0",
            TIPLINE_DATA_DIR=str(workdir / "data"), TIPLINE_KEYS_DIR=str(workdir / "keys"),
            TIPLINE_CONFIG_DIR=str(ROOT / "config"), TIPLINE_SECRET_KEY=b64(),
            TIPLINE_RELAY_KEY=b64(), TIPLINE_PEPPER=b64(), PYTHONPATH=str(ROOT),
        )  # fmt: skip
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "tipline.cli", "stats", "export", "--by", "zone,category,period",
             "--period", "week", "--from", year[0].isoformat(), "--to", today.isoformat(),
             "--format", "csv", "-o", str(workdir / "out.csv")],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        elapsed = time.perf_counter() - t0
        print(
            f"tipline stats export (process start included): {elapsed:.2f} s, exit {done.returncode}"
        )
        if done.returncode:
            print(done.stderr[-2000:])
        shutil.rmtree(workdir, ignore_errors=True)
        return 0 if done.returncode == 0 else 1
    finally:
        engine.dispose()
        if not args.keep_db:
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


if __name__ == "__main__":
    raise SystemExit(main())
