"""Signed Twilio SMS webhook (POST /sms/inbound) under gunicorn on PostgreSQL + Redis.

Open loop: requests start at a fixed arrival rate (default 100 per second), whatever the
server does, from several client processes with a few connections each. Latency is
counted from each request's *scheduled* start, so a slow answer that delays the next
sends is charged to the server (no coordinated omission). Then a short closed-loop run
(N clients sending back to back) gives the saturation throughput, i.e. the headroom.

Every request is what Twilio posts: form-encoded, the same parameters (MessageSid,
AccountSid, From, To, Body, NumMedia, FromCity/FromState/FromZip/FromCountry, …) and an
X-Twilio-Signature computed with Twilio's own RequestValidator over TIPLINE_PUBLIC_URL +
path. The mix: 70% first texts from new numbers (each a new tip: keygen, sealing, the
tip's rows, reply handle, outbox, conversation state, route_tip enqueue), 30% follow-ups
from numbers already seen, each following the conversation: the category answer, then
the zone answer (postal code, menu number or SKIP; re-routes the tip), then more text.
No worker runs (jobs are only enqueued) and TIPLINE_TWILIO_API_BASE points at a port
where nothing listens. Target: p99 < 100 ms at 100 req/s.

    python bench/sms.py [--rate 100] [--seconds 20] [--clients 8] [--saturate-seconds 10]
                        [--postgres DSN] [--redis URL]

Creates and drops its own database; uses its own Redis key prefix; stops its server.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import math
import multiprocessing as mp
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder would come first on sys.path, and bench/queue.py
# would then stand in for the standard library's queue module: take the folder out.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench.intake import _free_port  # noqa: E402

TARGET_P99_MS = 100.0
PATH = "/sms/inbound"
TO_NUMBER = "+16135550199"  # the tip line's (fake) Twilio number
FOLLOWUP_SHARE = 0.30

# What tipsters text first: a few hundred characters, English and French.
FIRST_TEXTS = (
    "Hi, I want to report something I keep seeing. A blue van with no plates parks behind "
    "the arena on Elm Street every Friday night around 11. Two men unload boxes into the "
    "back door of the closed restaurant next to it and leave after about twenty minutes. "
    "Neighbours have noticed too but nobody wants to call. I don't want my name used.",
    "My neighbour's son has been selling pills out of the garage at the end of our street "
    "for about two months. Cars stop for a couple of minutes at all hours, mostly between "
    "9 pm and 2 am, and young kids from the high school come on bikes after class. There "
    "is a grey pickup that comes every Sunday to drop things off.",
    "Bonjour, je veux signaler une situation dans mon immeuble. Depuis le mois dernier, un "
    "homme qui habite au troisième reçoit beaucoup de visiteurs la nuit, qui restent "
    "quelques minutes seulement. Il y a souvent une odeur forte dans le couloir et des "
    "sacs laissés près des boîtes aux lettres. Je ne veux pas donner mon nom.",
    "The man who works at the used car lot on the highway is rolling back odometers and "
    "selling cars with salvage titles as clean. I bought one and found out afterwards. "
    "He also keeps cash payments off the books and told me not to put anything in "
    "writing. Other buyers have complained online but nothing happens.",
    "Someone is breaking into cars in the parking lot behind the library almost every "
    "week. I saw a young guy in a black hoodie with a red backpack trying door handles "
    "last Tuesday around 8 pm. He left on a bike towards the river path. I think he is "
    "the same person seen on the neighbourhood page last month.",
    "Il y a un chantier abandonné près du parc où des jeunes se rassemblent chaque soir. "
    "J'ai vu un adulte leur vendre quelque chose à plusieurs reprises, toujours vers 22 h, "
    "avec une voiture noire stationnée plus loin, moteur en marche. Je crains que ça "
    "finisse mal, les enfants du quartier jouent là pendant la journée.",
)
MORE_TEXTS = (
    "One more thing: the van has a dent on the driver's side door and a ladder rack on "
    "the roof. Last night it came at 10:40 and left at 11:05. I think the driver lives "
    "in the townhouses on the corner because I have seen it parked there in the morning.",
    "Encore une chose : la voiture noire a une plaque du Québec qui commence par G et un "
    "autocollant de club de hockey sur la vitre arrière. Elle revient surtout le jeudi "
    "et le samedi. Je peux envoyer d'autres détails si vous en avez besoin.",
    "He was there again today with a second person I had not seen before, a tall woman "
    "with short blond hair. They talked for a while in the parking lot, then went in "
    "through the side entrance. The lights stayed on until past midnight.",
)
ZONE_ANSWERS = ("K1A 0B1", "H2X 1Y4", "M5V", "P3A 2B7", "G1R", "3", "5", "1", "SKIP")
CITIES = (
    ("OTTAWA", "ON", "K1P"),
    ("TORONTO", "ON", "M5V"),
    ("MONTREAL", "QC", "H2X"),
    ("QUEBEC", "QC", "G1R"),
    ("SUDBURY", "ON", "P3A"),
    ("", "ON", ""),  # Twilio leaves geo fields empty when it does not know them
)


@dataclass(frozen=True)
class Load:
    port: int
    url: str  # what Twilio signs: TIPLINE_PUBLIC_URL + path
    token: str
    account_sid: str
    clients: int
    connections: int  # per client process
    rate: float | None  # requests per second in all; None = closed loop
    seconds: float
    start_at: float  # time.monotonic() (system-wide on Linux) of slot 0
    number_base: int  # keeps each run's numbers apart


class Conversations:
    """One client's numbers: new ones, and those whose last text was answered (idle)."""

    def __init__(self, load: Load, index: int) -> None:
        self.load, self.index = load, index
        self.rng = random.Random(f"{load.number_base}-{index}")
        self.lock = threading.Lock()
        self.created = 0
        self.idle: list[tuple[str, int]] = []  # (number, next step); in flight = absent

    def next(self) -> tuple[str, int, str, str]:
        """(number, step, kind, body) for the next text."""
        with self.lock:
            rng = self.rng
            if self.idle and rng.random() < FOLLOWUP_SHARE:
                i = rng.randrange(len(self.idle))
                self.idle[i], self.idle[-1] = self.idle[-1], self.idle[i]
                number, step = self.idle.pop()
                if step == 1:
                    return number, step, "category", str(rng.randint(1, 11))  # 12 is "other"
                if step == 2:
                    return number, step, "zone", rng.choice(ZONE_ANSWERS)
                return number, step, "more", rng.choice(MORE_TEXTS)
            n = self.load.number_base + self.index + self.load.clients * self.created
            self.created += 1
            return f"+1555{n:07d}", 0, "first", rng.choice(FIRST_TEXTS)

    def answered(self, number: str, step: int) -> None:
        with self.lock:
            self.idle.append((number, step + 1))


def twilio_params(load: Load, number: str, body: str, rng: random.Random) -> dict[str, str]:
    """The form Twilio posts for an incoming SMS (Messaging webhook, API 2010-04-01)."""
    sid = "SM" + secrets.token_hex(16)
    city, state, zip_ = rng.choice(CITIES)
    return {
        "ToCountry": "CA",
        "ToState": "ON",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "OTTAWA",
        "FromZip": zip_,
        "SmsSid": sid,
        "FromState": state,
        "SmsStatus": "received",
        "FromCity": city,
        "Body": body,
        "FromCountry": "CA",
        "To": TO_NUMBER,
        "ToZip": "",
        "NumSegments": str(max(1, math.ceil(len(body) / 153))),
        "MessageSid": sid,
        "AccountSid": load.account_sid,
        "From": number,
        "ApiVersion": "2010-04-01",
    }


def _client(load: Load, index: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """One client process: ``load.connections`` threads, each with its own connection.

    Open loop: slot n (n = index, index + clients, …) is due at start_at + n / rate; an
    idle thread takes the next slot and waits for its time. When every thread is busy the
    slot waits, and that wait counts in its latency. Records
    (kind, status, latency, service time, send lag) per request.
    """
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(load.token)
    numbers = Conversations(load, index)
    slot_lock = threading.Lock()
    next_slot = [0]
    records: list[tuple[str, int, float, float, float]] = []
    end = load.start_at + load.seconds

    def run(thread: int) -> None:
        rng = random.Random(f"{load.number_base}-{index}-{thread}")
        conn = http.client.HTTPConnection("127.0.0.1", load.port, timeout=30)
        while True:
            if load.rate is None:
                if time.monotonic() >= end:
                    break
                scheduled = None
            else:
                with slot_lock:
                    k = next_slot[0]
                    next_slot[0] += 1
                scheduled = load.start_at + (index + load.clients * k) / load.rate
                if scheduled >= end:
                    break
                delay = scheduled - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            number, step, kind, body = numbers.next()
            params = twilio_params(load, number, body, rng)
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": validator.compute_signature(load.url, params),
                "User-Agent": "TwilioProxy/1.1",
            }
            sent = time.monotonic()
            try:
                conn.request("POST", PATH, body=urllib.parse.urlencode(params), headers=headers)
                response = conn.getresponse()
                payload = response.read()
                status = response.status
                if status == 200 and not payload.startswith(b"<?xml"):
                    status = -200  # 200 but not TwiML
            except (OSError, http.client.HTTPException):
                conn.close()
                status = -1
            done = time.monotonic()
            if status == 200:
                numbers.answered(number, step)
            start = sent if scheduled is None else scheduled
            records.append((kind, status, done - start, done - sent, sent - start))
        conn.close()

    threads = [threading.Thread(target=run, args=(t,)) for t in range(load.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(records)


def drive(load: Load) -> tuple[list[tuple[str, int, float, float, float]], float]:
    """All clients' records and the run's wall time (first slot to last answer)."""
    ctx = mp.get_context("fork")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_client, args=(load, i, out)) for i in range(load.clients)]
    for p in procs:
        p.start()
    records = [r for _ in procs for r in out.get()]
    for p in procs:
        p.join()
    return records, time.monotonic() - load.start_at


def _ms(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``values``, in ms."""
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))] * 1000


def summarize(records: list[tuple[str, int, float, float, float]], elapsed: float) -> dict:  # type: ignore[type-arg]
    ok = [r for r in records if r[1] == 200]
    lat = sorted(r[2] for r in ok)
    service = sorted(r[3] for r in ok)
    lag = sorted(r[4] for r in records)
    by_kind = {}
    for kind in ("first", "category", "zone", "more"):
        values = sorted(r[2] for r in ok if r[0] == kind)
        if values:
            by_kind[kind] = (len(values), _ms(values, 0.5), _ms(values, 0.99))
    return {
        "requests": len(records),
        "ok": len(ok),
        "bad": Counter(r[1] for r in records if r[1] != 200),
        "rps": len(ok) / elapsed,
        "p50": _ms(lat, 0.50) if lat else math.nan,
        "p95": _ms(lat, 0.95) if lat else math.nan,
        "p99": _ms(lat, 0.99) if lat else math.nan,
        "max": lat[-1] * 1000 if lat else math.nan,
        "mean": statistics.fmean(lat) * 1000 if lat else math.nan,
        "service_p50": _ms(service, 0.50) if service else math.nan,
        "service_p99": _ms(service, 0.99) if service else math.nan,
        "lag_p99": _ms(lag, 0.99) if lag else math.nan,
        "lag_max": lag[-1] * 1000 if lag else math.nan,
        "by_kind": by_kind,
        "first_ok": sum(1 for r in ok if r[0] == "first"),
        "zone_ok": sum(1 for r in ok if r[0] == "zone"),
    }


def _post_once(port: int, body: str, signature: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        }
        conn.request("POST", PATH, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=100, help="open-loop arrivals per second")
    parser.add_argument("--seconds", type=float, default=20, help="open-loop duration")
    parser.add_argument("--clients", type=int, default=8, help="client processes")
    parser.add_argument(
        "--connections", type=int, default=4, help="connections per client (open loop)"
    )
    parser.add_argument(
        "--saturate-seconds", type=float, default=10, help="closed-loop run (0: skip)"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--postgres", default="host=127.0.0.1 port=5432 dbname=test user=postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    import psycopg
    import redis
    from sqlalchemy import create_engine, text
    from twilio.request_validator import RequestValidator

    from tipline.crypto import generate_private_key
    from tipline.crypto import recovery as rk
    from tipline.db import make_sessionmaker, transaction
    from tipline.keyring import ensure_unit
    from tipline.migrate import upgrade
    from tipline.triage.config import load_config

    # Setup as in bench/intake.py: own database, own Redis prefix, own secrets.
    dbname = f"tipline_bench_{uuid.uuid4().hex[:10]}"
    params = dict(p.split("=", 1) for p in args.postgres.split())
    url = f"postgresql+psycopg://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}:{params.get('port', '5432')}/{dbname}"
    prefix = f"tlbench-{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="tipline-bench-"))
    with psycopg.connect(args.postgres, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    server = None
    failed = True
    try:
        engine = create_engine(url)
        upgrade(engine)
        recovery = generate_private_key()
        rk.write_public(workdir / "keys", recovery.public_key)
        with transaction(make_sessionmaker(engine)) as session:
            for spec in load_config(ROOT / "config").units.values():
                ensure_unit(session, spec.slug, spec.name, recovery.public_key)

        def b64() -> str:
            return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()

        port = _free_port()
        public_url = f"http://127.0.0.1:{port}"
        token = secrets.token_hex(16)  # a Twilio auth token is 32 hex digits
        account_sid = "AC" + secrets.token_hex(16)
        env = dict(os.environ)
        env.update(
            TIPLINE_DATABASE_URL=url, TIPLINE_REDIS_URL=args.redis, TIPLINE_REDIS_PREFIX=prefix,
            TIPLINE_DATA_DIR=str(workdir / "data"), TIPLINE_KEYS_DIR=str(workdir / "keys"),
            TIPLINE_CONFIG_DIR=str(ROOT / "config"), TIPLINE_SECRET_KEY=b64(), TIPLINE_RELAY_KEY=b64(),
            TIPLINE_PEPPER=b64(), PYTHONPATH=str(ROOT),
            # What Twilio signs; the webhook checks against this, not the Host header.
            TIPLINE_PUBLIC_URL=public_url,
            TWILIO_AUTH_TOKEN=token, TWILIO_ACCOUNT_SID=account_sid, TWILIO_FROM_NUMBER=TO_NUMBER,
            # Nothing listens on port 9 (discard): no call could ever reach Twilio.
            TIPLINE_TWILIO_API_BASE="http://127.0.0.1:9",
            # The SMS webhook has no rate limit today; should one share the tip limit, the
            # load generator (one address) must not hit it.
            TIPLINE_TIP_RATE_LIMIT="10000000 per hour",
        )  # fmt: skip
        log = workdir / "gunicorn.log"
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-b", f"127.0.0.1:{port}",
             "--no-control-socket", "--error-logfile", str(log), "tipline.app:create_app()"],
            env=env, cwd=ROOT, start_new_session=True,
        )  # fmt: skip
        listening = False
        for _ in range(300):
            if server.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                listening = True
                break
            except OSError:
                time.sleep(0.1)
        if not listening:
            print("gunicorn did not start:")
            print(log.read_text()[-4000:] if log.exists() else "(no gunicorn log)")
            return 1
        # One signed text and one with a wrong signature: the server checks what we sign.
        validator = RequestValidator(token)
        probe = Load(port, public_url + PATH, token, account_sid, 1, 1, None, 0, 0, 9_000_000)
        form = twilio_params(probe, "+15559999999", FIRST_TEXTS[0], random.Random(0))
        body = urllib.parse.urlencode(form)
        signed = _post_once(port, body, validator.compute_signature(public_url + PATH, form))
        forged = _post_once(port, body, validator.compute_signature(public_url + "/x", form))
        if signed != 200 or forged != 403:
            print(f"signed text -> {signed} (want 200), bad signature -> {forged} (want 403)")
            print(log.read_text()[-4000:] if log.exists() else "(no gunicorn log)")
            return 1

        def load(rate: float | None, seconds: float, connections: int, base: int) -> Load:
            start = time.monotonic() + 0.5  # time to fork the clients
            return Load(port, public_url + PATH, token, account_sid, args.clients,
                        connections, rate, seconds, start, base)  # fmt: skip

        print(
            f"gunicorn {args.workers} workers, PostgreSQL + Redis; open loop {args.rate:.0f} req/s "
            f"for {args.seconds:.0f} s from {args.clients} clients x {args.connections} connections; "
            f"mix {1 - FOLLOWUP_SHARE:.0%} first texts / {FOLLOWUP_SHARE:.0%} follow-ups"
        )
        warm = summarize(*drive(load(args.rate, 2, args.connections, 0)))  # warm-up
        run = summarize(*drive(load(args.rate, args.seconds, args.connections, 1_000_000)))
        sat = None
        if args.saturate_seconds > 0:
            sat = summarize(*drive(load(None, args.saturate_seconds, 1, 2_000_000)))

        def bad(r: dict) -> str:  # type: ignore[type-arg]
            return ", ".join(f"{n}x {s}" for s, n in sorted(r["bad"].items())) or "none"

        print(
            f"\nopen loop, offered {args.rate:.0f} req/s: achieved {run['rps']:.1f} req/s, "
            f"{run['ok']} x 200 of {run['requests']}, non-200: {bad(run)}"
        )
        print(
            f"  latency from scheduled start: p50 {run['p50']:.1f} ms  p95 {run['p95']:.1f} ms  "
            f"p99 {run['p99']:.1f} ms  max {run['max']:.1f} ms  (mean {run['mean']:.1f} ms)"
        )
        print(
            f"  service time from actual send: p50 {run['service_p50']:.1f} ms  "
            f"p99 {run['service_p99']:.1f} ms; load generator late to send: "
            f"p99 {run['lag_p99']:.1f} ms  max {run['lag_max']:.1f} ms"
        )
        for kind, (n, p50, p99) in run["by_kind"].items():
            print(f"  {kind:9s} {n:6d} texts  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms")
        met = run["p99"] < TARGET_P99_MS and run["ok"] == run["requests"]
        print(
            f"  target p99 < {TARGET_P99_MS:.0f} ms at {args.rate:.0f} req/s: "
            f"{'MET' if met else 'NOT MET'} (p99 {run['p99']:.1f} ms)"
        )
        if sat is not None:
            print(
                f"\nclosed loop, {args.clients} clients back to back for {args.saturate_seconds:.0f} s: "
                f"{sat['rps']:.1f} req/s (saturation), p50 {sat['p50']:.1f} ms  "
                f"p99 {sat['p99']:.1f} ms, non-200: {bad(sat)}"
            )

        # Sanity: the requests did the work (tips, handles, sealed items, outbox, Redis).
        with engine.connect() as db:
            tips = db.execute(text("SELECT count(*) FROM tips WHERE channel = 'sms'")).scalar()
            routed = db.execute(
                text("SELECT count(*) FROM tips WHERE channel = 'sms' AND category <> 'other'")
            ).scalar()
            handles = db.execute(text("SELECT count(*) FROM reply_handles")).scalar()
            items: dict[str, int] = dict(
                db.execute(text("SELECT kind, count(*) FROM sealed_items GROUP BY kind")).all()
            )
            outbox: dict[str, int] = dict(
                db.execute(text("SELECT job, count(*) FROM outbox GROUP BY job")).all()
            )
        engine.dispose()
        r = redis.Redis.from_url(args.redis)
        states = sum(1 for _ in r.scan_iter(match=f"{prefix}:sms:*", count=1000))
        queued = {
            key.decode().removeprefix(f"rq:queue:{prefix}-"): r.llen(key)
            for key in r.scan_iter(match=f"rq:queue:{prefix}-*", count=1000)
            if r.type(key) == b"list"
        }
        runs = [warm, run] + ([sat] if sat else [])
        first_ok = 1 + sum(x["first_ok"] for x in runs)  # + the signed probe
        zone_ok = sum(x["zone_ok"] for x in runs)
        total = sum(x["requests"] for x in runs)
        total_ok = sum(x["ok"] for x in runs)
        print(
            f"\nwritten: {tips} SMS tips (expected {first_ok}: one per answered first text), "
            f"{routed} re-routed by a zone answer (expected {zone_ok}), {handles} reply handles; sealed items "
            f"{dict(sorted(items.items()))}; outbox {dict(sorted(outbox.items()))}; "
            f"Redis: {states} conversations, jobs queued {dict(sorted(queued.items()))}"
        )
        if total_ok * 2 < total or not tips:
            print(f"FAILED: {total - total_ok} of {total} requests were not 200, {tips} tips")
            print(log.read_text()[-4000:] if log.exists() else "(no gunicorn log)")
            return 1
        if tips != first_ok:
            print(f"FAILED: {tips} tips for {first_ok} answered first texts")
            return 1
        failed = False
        return 0 if total_ok == total else 1
    finally:
        if server is not None:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(10)
        r = redis.Redis.from_url(args.redis)
        keys = list(r.scan_iter(match=f"*{prefix}*", count=1000))
        if keys:
            r.delete(*keys)
        stale = [q for q in r.smembers("rq:queues") if prefix.encode() in q]
        if stale:
            r.srem("rq:queues", *stale)
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        if failed and (workdir / "gunicorn.log").exists():
            print(f"(gunicorn log kept: {workdir / 'gunicorn.log'})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
