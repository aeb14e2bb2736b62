"""A mixed workload against the whole service, and the bare baseline in the same run.

gunicorn (2 workers), RQ workers and the scheduler, on PostgreSQL + Redis (a database and
key prefix of the bench's own, dropped at the end). Open loop for --seconds at --rate tips
a second (half web tips with a photo, half SMS first texts signed with Twilio's
RequestValidator), plus staff reading the queue (API and page) at --reads a second and a
statistics export every --export-every seconds. Latency is counted from each request's
scheduled time, so a server that falls behind shows it (no coordinated omission).

Intake -> routed: triggers in the bench's database stamp clock_timestamp() when a tip is
written and when it is routed (routed_at set); the difference is the tip's wait for its
unit queue. Then, closed loop, intake at saturation is compared with the bare baseline
route of bench/intake.py (the same form, one plaintext INSERT).

    python bench/load.py [--seconds 60] [--rate 200] [--workers 2] [--rq-workers 2]

Targets: intake/baseline >= 0.75; intake -> routed p99 < 250 ms at 200 tips/s.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import math
import multiprocessing as mp
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder would come first on sys.path, and bench/queue.py
# would then stand in for the standard library's queue module: take the folder out.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
REF = r"[23456789ABCDEFGHJKMNPQRSTVWXYZ]{10}"


def _photo() -> bytes:
    """A small JPEG with camera metadata, as a phone would send (scrubbed at intake)."""
    from PIL import Image

    image = Image.new("RGB", (320, 240), (90, 120, 150))
    exif = Image.Exif()
    exif[0x010F] = "BenchMake"  # Make
    exif[0x0110] = "BenchModel"  # Model
    exif[0x013B] = "Bench Artist"  # Artist
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif.tobytes())
    return out.getvalue()


def _multipart(fields: dict[str, str], photo: bytes) -> tuple[bytes, str]:
    boundary = "bench" + secrets.token_hex(8)
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; filename="IMG_0001.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
        + photo
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Conn:
    def __init__(self, port: int) -> None:
        self.port = port
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""

    def request(self, method: str, path: str, body=None, headers=None) -> tuple[int, str]:  # type: ignore[no-untyped-def]
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        try:
            self.http.request(method, path, body=body, headers=headers)
            response = self.http.getresponse()
            text = response.read().decode(errors="replace")
        except (OSError, http.client.HTTPException):
            self.http.close()
            self.http = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            return 0, ""
        jar = dict(c.split("=", 1) for c in self.cookie.split("; ") if "=" in c)
        for cookie in response.msg.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            jar[name] = value
        self.cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
        return response.status, text


def _open_loop(kind: str, rate: float, seconds: float, start: float, send, out) -> None:  # type: ignore[no-untyped-def]
    """Send at scheduled times; latency from the schedule. Records (kind, status, latency,
    reference or '')."""
    records = []
    interval = 1.0 / rate
    n = 0
    while True:
        scheduled = start + n * interval
        if scheduled > start + seconds:
            break
        delay = scheduled - time.time()
        if delay > 0:
            time.sleep(delay)
        status, reference = send(n)
        records.append((kind, status, time.time() - scheduled, reference))
        n += 1
    out.put(records)


def web_tipster(port: int, rate: float, seconds: float, start: float, seed: int, out) -> None:  # type: ignore[no-untyped-def]
    conn = Conn(port)
    photo = _photo()
    status, page = conn.request("GET", "/tip")
    token = TOKEN_RE.search(page).group(1)  # type: ignore[union-attr]

    def send(n: int) -> tuple[int, str]:
        fields = {
            "category": ("drugs", "weapons", "fraud-scams", "property-crime")[n % 4],
            "zone": ("on-north", "qc-montreal", "on-central")[n % 3],
            "description": f"Load tip {seed}-{n}: a blue van delivers packages behind the arena at night.",
            "lang": "en",
            "csrf_token": token,
        }
        body, content_type = _multipart(fields, photo)
        status, page = conn.request("POST", "/tip", body, {"Content-Type": content_type})
        match = re.search(rf'id="tip-reference"[^>]*>({REF})<', page)
        return status, match.group(1) if match else ""

    _open_loop("web tip + photo", rate, seconds, start, send, out)


def sms_tipster(port: int, rate: float, seconds: float, start: float, seed: int, env, out) -> None:  # type: ignore[no-untyped-def]
    from twilio.request_validator import RequestValidator

    conn = Conn(port)
    validator = RequestValidator(env["TWILIO_AUTH_TOKEN"])
    url = env["TIPLINE_PUBLIC_URL"] + "/sms/inbound"

    def send(n: int) -> tuple[int, str]:
        params = {
            "MessageSid": "SM" + secrets.token_hex(16),
            "AccountSid": env["TWILIO_ACCOUNT_SID"],
            "From": f"+1613{seed:03d}{n:04d}",
            "To": env["TWILIO_FROM_NUMBER"],
            "Body": f"Load text {seed}-{n}: drugs sold at the corner every night.",
            "NumMedia": "0",
        }
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": validator.compute_signature(url, params),
        }
        status, xml = conn.request("POST", "/sms/inbound", urllib.parse.urlencode(params), headers)
        match = re.search(rf"ref ({REF})", xml)
        return status, match.group(1) if match else ""

    _open_loop("sms first text", rate, seconds, start, send, out)


def staff_reader(port: int, rate: float, seconds: float, start: float, auth, out) -> None:  # type: ignore[no-untyped-def]
    api = Conn(port)
    page = Conn(port)
    page.cookie = auth["cookie"]

    def send(n: int) -> tuple[int, str]:
        if n % 2:
            return page.request("GET", "/staff/?status=new")[0], ""
        headers = {"Authorization": f"Bearer {auth['token']}"}
        return api.request("GET", "/api/v1/queue?limit=50", headers=headers)[0], ""

    _open_loop("staff queue read", rate, seconds, start, send, out)


def stats_exporter(port: int, every: float, seconds: float, start: float, auth, out) -> None:  # type: ignore[no-untyped-def]
    conn = Conn(port)

    def send(_n: int) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {auth['supervisor_token']}"}
        path = "/api/v1/stats?by=zone,category&period=week&format=csv"
        return conn.request("GET", path, headers=headers)[0], ""

    _open_loop("stats export", 1.0 / every, seconds, start, send, out)


def _ms(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def _setup_database(url: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    from tipline.migrate import upgrade

    engine = create_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            """
            CREATE TABLE bench_baseline (id serial primary key, reference text, category text,
                                         zone text, body text);
            CREATE TABLE bench_events (tip_id integer, kind text,
                                       at timestamptz DEFAULT clock_timestamp());
            CREATE FUNCTION bench_written() RETURNS trigger AS $$
            BEGIN INSERT INTO bench_events (tip_id, kind) VALUES (NEW.id, 'written');
                  RETURN NEW; END $$ LANGUAGE plpgsql;
            CREATE FUNCTION bench_routed() RETURNS trigger AS $$
            BEGIN INSERT INTO bench_events (tip_id, kind) VALUES (NEW.id, 'routed');
                  RETURN NEW; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER bench_written AFTER INSERT ON tips
              FOR EACH ROW EXECUTE FUNCTION bench_written();
            CREATE TRIGGER bench_routed AFTER UPDATE OF routed_at ON tips
              FOR EACH ROW WHEN (NEW.routed_at IS NOT NULL) EXECUTE FUNCTION bench_routed();
            """
        )
    return engine


def _staff(engine, workdir: Path) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Two accounts (an investigator for the pages, a supervisor for the API and stats),
    members of every unit; returns their credentials."""
    from tipline.crypto import KdfProfile, generate_private_key
    from tipline.crypto import recovery as rk
    from tipline.db import make_sessionmaker, transaction
    from tipline.keyring import add_staff, ensure_unit, grant_unit, unit_key_from_recovery
    from tipline.triage.config import load_config

    recovery = generate_private_key()
    rk.write_public(workdir / "keys", recovery.public_key)
    accounts: dict[str, object] = {}
    with transaction(make_sessionmaker(engine)) as session:
        units = [
            ensure_unit(session, spec.slug, spec.name, recovery.public_key)
            for spec in load_config(ROOT / "config").units.values()
        ]
        for name, role in (("reader", "investigator"), ("boss", "supervisor")):
            created = add_staff(session, f"{name}@bench.test", role, KdfProfile.for_tests())
            for unit in units:
                key = unit_key_from_recovery(session, unit, recovery)
                grant_unit(session, created.staff, unit, unit_key=key)
            accounts[name] = (created.staff.email, created.password, created.totp_secret)
    return accounts


def _sign_in(port: int, accounts) -> dict[str, str]:  # type: ignore[no-untyped-def]
    import pyotp

    email, password, secret = accounts["reader"]
    page = Conn(port)
    _, login = page.request("GET", "/staff/login")
    token = TOKEN_RE.search(login).group(1)  # type: ignore[union-attr]
    body = urllib.parse.urlencode(
        {
            "email": email,
            "password": password,
            "totp": pyotp.TOTP(secret).now(),
            "csrf_token": token,
        }
    )
    status, _ = page.request(
        "POST", "/staff/login", body, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 302, f"staff sign-in failed: {status}"
    email, password, secret = accounts["boss"]
    api = Conn(port)
    status, text = api.request(
        "POST",
        "/api/v1/auth/token",
        json.dumps({"email": email, "password": password, "totp": pyotp.TOTP(secret).now()}),
        {"Content-Type": "application/json"},
    )
    assert status == 201, f"token refused: {status} {text[:200]}"
    supervisor_token = json.loads(text)["token"]
    # The API token of the reader would need a second sign-in in the same TOTP step (which
    # the replay guard refuses): the queue API is read as the supervisor too.
    return {"cookie": page.cookie, "token": supervisor_token, "supervisor_token": supervisor_token}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=200, help="tips a second (web + SMS)")
    parser.add_argument("--reads", type=float, default=20, help="staff queue reads a second")
    parser.add_argument("--export-every", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--rq-workers", type=int, default=2)
    parser.add_argument("--saturation-seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=8, help="closed-loop clients (ratio)")
    parser.add_argument("--postgres", default="host=127.0.0.1 port=5432 dbname=test user=postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    import psycopg
    import redis

    from bench.intake import bench_route_units, measure, report, server_pids
    from tests.support.fake_twilio import fake_twilio_server

    dbname = f"tipline_load_{uuid.uuid4().hex[:10]}"
    params = dict(p.split("=", 1) for p in args.postgres.split())
    url = f"postgresql+psycopg://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}:{params.get('port', '5432')}/{dbname}"
    prefix = f"tlload-{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="tipline-load-"))
    (workdir / "keys").mkdir()
    with psycopg.connect(args.postgres, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    processes: list[subprocess.Popen[bytes]] = []
    try:
        engine = _setup_database(url)
        accounts = _staff(engine, workdir)

        def b64() -> str:
            return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()

        with fake_twilio_server() as twilio:
            port = _free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith(("TIPLINE_", "TWILIO_"))}
            env.update(twilio.env())
            env.update(
                TIPLINE_DATABASE_URL=url, TIPLINE_REDIS_URL=args.redis, TIPLINE_REDIS_PREFIX=prefix,
                TIPLINE_DATA_DIR=str(workdir / "data"), TIPLINE_KEYS_DIR=str(workdir / "keys"),
                TIPLINE_CONFIG_DIR=str(ROOT / "config"), TIPLINE_PUBLIC_URL=f"http://127.0.0.1:{port}",
                TIPLINE_SECRET_KEY=b64(), TIPLINE_RELAY_KEY=b64(), TIPLINE_PEPPER=b64(),
                TIPLINE_KDF_PROFILE="test", TIPLINE_POW_BITS="0", PYTHONPATH=str(ROOT),
                # One load generator is one "connection": lift the per-connection limits
                # (the limiter still runs and counts, as in production).
                TIPLINE_TIP_RATE_LIMIT="100000000 per hour",
            )  # fmt: skip
            log = (workdir / "server.log").open("ab")
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "gunicorn",
                        "-w",
                        str(args.workers),
                        "-b",
                        f"127.0.0.1:{port}",
                        "--error-logfile",
                        str(workdir / "gunicorn.log"),
                        "bench.intake:bench_app()",
                    ],
                    env=env,
                    cwd=ROOT,
                    start_new_session=True,
                    stdout=log,
                    stderr=log,
                )  # fmt: skip
            )
            for name in [*(["worker"] * args.rq_workers), "scheduler"]:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "tipline.cli", name],
                        env=env,
                        cwd=ROOT,
                        start_new_session=True,
                        stdout=log,
                        stderr=log,
                    )  # fmt: skip
                )
            _wait_for(port)
            auth = _sign_in(port, accounts)
            print(
                f"gunicorn {args.workers} workers, {args.rq_workers} RQ workers + scheduler, "
                f"PostgreSQL + Redis; {args.seconds:.0f} s at {args.rate:.0f} tips/s "
                f"(half web with a photo, half SMS), {args.reads:.0f} queue reads/s, "
                f"a stats export every {args.export_every:.0f} s"
            )
            ctx = mp.get_context("fork")
            out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
            start = time.time() + 2.0
            # Each generator sends one request at a time: at most 5 a second each, so that
            # one slow answer delays only its own sender (the schedule keeps the count).
            web_procs = max(1, math.ceil(args.rate / 2 / 5))
            sms_procs = max(1, math.ceil(args.rate / 2 / 5))
            read_procs = max(1, math.ceil(args.reads / 5))
            jobs = [
                (web_tipster, (port, args.rate / 2 / web_procs, args.seconds, start, i, out))
                for i in range(web_procs)
            ]
            jobs += [
                (sms_tipster, (port, args.rate / 2 / sms_procs, args.seconds, start, i, env, out))
                for i in range(sms_procs)
            ]
            jobs += [
                (staff_reader, (port, args.reads / read_procs, args.seconds, start, auth, out))
                for _ in range(read_procs)
            ]
            jobs.append((stats_exporter, (port, args.export_every, args.seconds, start, auth, out)))
            clients = [ctx.Process(target=f, args=a) for f, a in jobs]
            for c in clients:
                c.start()
            records = [r for _ in clients for r in out.get()]
            for c in clients:
                c.join()
            elapsed = time.time() - start
            achieved = _report(records, elapsed)
            _report_routing(url, args.rate, achieved)

            # Let every job finish (routing, Twilio deletes), then saturation: the bare
            # baseline against intake, closed loop, on an idle service.
            _wait_for_quiet(url)
            # As in bench/intake.py, the saturation runs measure the web process: the RQ
            # workers stop (routing waits for them; the tips stay safe in the outbox).
            for process in processes[1:]:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(30)
            measure(port, "/tip", 2, args.clients)
            measure(port, "/bench/baseline", 2, args.clients)
            pids = server_pids(processes[0].pid)
            baseline = measure(port, "/bench/baseline", args.saturation_seconds, args.clients, pids)
            intake = measure(port, "/tip", args.saturation_seconds, args.clients, pids)
            print(
                f"saturation ({args.clients} clients, {args.saturation_seconds:.0f} s each, text only):"
            )
            report(baseline, intake, units=len(bench_route_units()))
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        r = redis.Redis.from_url(args.redis)
        keys = [k for k in r.scan_iter(match=f"*{prefix}*", count=1000)]
        if keys:
            r.delete(*keys)
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _report(records, elapsed: float) -> float:  # type: ignore[no-untyped-def]
    """Prints the table; returns the tips a second accepted."""
    kinds = sorted({r[0] for r in records})
    print(
        f"{'class':18s} {'sent':>6s} {'ok':>6s} {'ok/s':>7s} {'p50 ms':>8s} {'p99 ms':>8s}  errors"
    )
    for kind in kinds:
        rows = [r for r in records if r[0] == kind]
        ok = sorted(r[2] for r in rows if r[1] == 200)
        errors = Counter(r[1] for r in rows if r[1] != 200)
        print(
            f"{kind:18s} {len(rows):6d} {len(ok):6d} {len(ok) / elapsed:7.1f} "
            f"{_ms(ok, 0.5):8.1f} {_ms(ok, 0.99):8.1f}  {dict(errors) or '-'}"
        )
    tips = [r for r in records if r[0] in ("web tip + photo", "sms first text") and r[1] == 200]
    print(f"tips accepted: {len(tips) / elapsed:.1f} a second")
    return len(tips) / elapsed


def _report_routing(url: str, rate: float, achieved: float) -> None:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    deadline = time.time() + 120
    with psycopg.connect(dsn) as conn:
        while time.time() < deadline:
            waiting = conn.execute(
                "SELECT count(*) FROM tips WHERE status = 'received'"
            ).fetchone()[0]  # type: ignore[index]
            if not waiting:
                break
            time.sleep(0.5)
        rows = conn.execute(
            """
            SELECT extract(epoch FROM r.at - w.at)
            FROM bench_events w JOIN bench_events r ON r.tip_id = w.tip_id AND r.kind = 'routed'
            WHERE w.kind = 'written'
            """
        ).fetchall()
        unrouted = conn.execute("SELECT count(*) FROM tips WHERE status = 'received'").fetchone()[0]  # type: ignore[index]
    waits = sorted(float(r[0]) for r in rows)
    p99 = _ms(waits, 0.99)
    print(
        f"intake -> routed ({len(waits)} tips, {unrouted} still unrouted): p50 {_ms(waits, 0.5):.1f} ms, "
        f"p95 {_ms(waits, 0.95):.1f} ms, p99 {p99:.1f} ms, max {waits[-1] * 1000 if waits else float('nan'):.1f} ms "
        f"at {achieved:.0f} tips/s accepted of {rate:.0f} offered"
    )
    if waits:
        print(f"  mean {statistics.fmean(waits) * 1000:.1f} ms")
    held = achieved >= 0.95 * 200
    verdict = "MET" if held and p99 < 250 else "MISSED"
    reason = "" if held else f" (the service accepted {achieved:.0f} tips/s, not 200)"
    print(f"target intake -> routed p99 < 250 ms at 200 tips/s: {verdict}{reason}")


def _wait_for_quiet(url: str) -> None:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    deadline = time.time() + 300
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.time() < deadline:
            if not conn.execute("SELECT count(*) FROM outbox").fetchone()[0]:  # type: ignore[index]
                return
            time.sleep(1)
    print("warning: outbox not empty after 300 s; saturation runs beside it")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int) -> None:
    import socket

    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


if __name__ == "__main__":
    sys.exit(main())
