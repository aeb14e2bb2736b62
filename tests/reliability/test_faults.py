"""Tips survive killed workers, a Redis restart and a PostgreSQL outage during intake.

The whole service runs as it does in production — gunicorn with 2 workers, RQ worker
processes and the scheduler — on a PostgreSQL cluster and a Redis server of the test's
own, so that they can be taken away. Clients send web and SMS tips at the same time
(the SMS ones signed with Twilio's own RequestValidator; Twilio's REST API is the local
fake). Meanwhile workers are SIGKILLed (with their work horse) at random moments and
restarted, as a process supervisor would; Redis is killed and restarted empty; and
PostgreSQL is stopped "immediate" (every backend dies, recovery on start) for a while.

Then: every tip a client was told was received exists once and was routed exactly once
(counted by a trigger in the test's own database, on every write of ``routed_at``); no
tip is half-written; everything refused was refused in plain words asking to send again
(never a 500, never a dropped connection); and the queue drains by itself.

``pytest --long`` sends 10,000 tips with 100 kills and three outages of each kind.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from urllib3 import encode_multipart_formdata

from tests.support import scale
from tests.support.fake_twilio import FakeTwilio, fake_twilio_server
from tests.support.services import (
    PrivatePostgres,
    PrivateRedis,
    free_port,
    wait_for_port,
    why_no_private_postgres,
)
from tests.support.twilio_signing import sign_twilio_request

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 8
REF = r"[23456789ABCDEFGHJKMNPQRSTVWXYZ]{10}"
WEB_ACCEPTED = re.compile(rf'id="tip-reference"[^>]*>({REF})<')
SMS_ACCEPTED = re.compile(rf"received, ref ({REF})")
# What a refused tipster reads: each asks them to send again.
WEB_REFUSALS = {
    503: "please try again in a few minutes",
    400: "reload the page and send again",  # the form's session was in the Redis that died
}
SMS_REFUSAL = "Please send it again in a few minutes"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')

pytestmark = [
    pytest.mark.skipif(
        why_no_private_postgres() is not None, reason=str(why_no_private_postgres())
    ),
    # --long sends 10,000 tips at the few dozen a second this service takes on 2 cores,
    # then drains: well past the suite's 300 s per test.
    pytest.mark.timeout(3600 if scale.LONG else 300),
]


@dataclass(frozen=True)
class Plan:
    tips: int
    kills: int
    redis_restarts: int
    postgres_outages: int
    postgres_down_seconds: float = 3.0
    redis_down_seconds: float = 1.0
    drain_deadline: float = 120.0


@dataclass
class Outcomes:
    """What clients were told, per channel."""

    accepted: dict[str, list[str]] = field(default_factory=lambda: {"web": [], "sms": []})
    with_file: set[str] = field(default_factory=set)  # web tips that carried an attachment
    refused: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: int = 0

    def accept(self, channel: str, reference: str, with_file: bool = False) -> None:
        with self.lock:
            self.accepted[channel].append(reference)
            if with_file:
                self.with_file.add(reference)
            self.done += 1

    def refuse(self, why: str) -> None:
        with self.lock:
            self.refused[why] += 1

    def odd(self, what: str) -> None:
        with self.lock:
            self.unexpected.append(what)
            self.done += 1


class Stack:
    """gunicorn, RQ workers and the scheduler as separate process groups, restarted
    when they exit (a supervisor's job), and killable at will."""

    def __init__(self, env: dict[str, str], logs: Path, workers: int = 2) -> None:
        self.env, self.logs = env, logs
        self.web_port = int(env["TIPLINE_PUBLIC_URL"].rsplit(":", 1)[1])
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.names = [f"worker{i}" for i in range(workers)] + ["scheduler"]
        self.exits: Counter[str] = Counter()
        self.kills = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._watch = threading.Thread(target=self._supervise, daemon=True)

    def _spawn(self, name: str) -> None:
        args = {
            "web": ["serve", "--bind", f"127.0.0.1:{self.web_port}", "--workers", "2"],
            "scheduler": ["scheduler"],
        }.get(name, ["worker"])
        log = (self.logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "tipline.cli", *args],
            env=self.env, cwd=ROOT, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        log.close()

    def start(self) -> None:
        self._spawn("web")
        wait_for_port(self.web_port)
        for name in self.names:
            self._spawn(name)
        self._watch.start()

    def _supervise(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                for name in self.names:
                    if self.procs[name].poll() is not None:
                        self.exits[name] += 1
                        self._spawn(name)

    def kill_a_worker(self, rng: random.Random) -> None:
        """SIGKILL a worker and its work horse mid-whatever; the supervisor restarts it."""
        with self._lock:
            name = rng.choice([n for n in self.names if n.startswith("worker")])
            process = self.procs[name]
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                return
            process.wait()
            self.kills += 1
            self._spawn(name)

    def stop(self) -> None:
        self._stop.set()
        if self._watch.is_alive():
            self._watch.join()
        for process in self.procs.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.procs.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


class WebTipster:
    """A browser on one connection: fetches the form (and its CSRF token) once, and again
    when told the form expired."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None
        self.cookie = self.token = ""

    def _request(
        self, method: str, path: str, body: bytes | None = None, content_type: str = ""
    ) -> tuple[int, str]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            page = response.read().decode()
        except Exception:
            self.conn.close()
            self.conn = None
            raise
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, page

    def send(self, n: int) -> tuple[int, str]:
        if not self.token:
            status, page = self._request("GET", "/tip")
            match = TOKEN.search(page)
            if status != 200 or not match:
                return status, page
            self.token = match.group(1)
        fields = {
            "category": ("drugs", "weapons", "fraud-scams", "other")[n % 4],
            "zone": ("on-north", "qc-montreal")[n % 2],
            "description": f"Reliability tip {n}: a blue van at the arena every night.",
            "lang": "en",
            "csrf_token": self.token,
        }
        if with_file(n):
            # Sealed files are written before the tip's rows: a fault between the two
            # must leave neither a row without its file nor a lost tip.
            body, content_type = encode_multipart_formdata(
                [*fields.items(), ("attachments", (f"notes-{n}.txt", f"Notes {n}\n", "text/plain"))]
            )
        else:
            body = urllib.parse.urlencode(fields).encode()
            content_type = "application/x-www-form-urlencoded"
        status, page = self._request("POST", "/tip", body, content_type)
        if status == 400:
            self.token = ""  # expired with its session: fetch the form again
        return status, page


def with_file(n: int) -> bool:
    """Every fourth tip (web ones only: SMS text has no attachment) carries a file."""
    return n % 4 == 0


def send_sms(twilio: FakeTwilio, public_url: str, n: int) -> tuple[int, str]:
    inbound = twilio.receive(f"+1514{7000000 + n:07d}", f"Reliability text {n}: drugs sold")
    url = public_url + "/sms/inbound"
    signature = sign_twilio_request(twilio.auth_token, url, inbound.params)
    conn = http.client.HTTPConnection(urllib.parse.urlsplit(public_url).netloc, timeout=60)
    try:
        conn.request(
            "POST",
            "/sms/inbound",
            body=urllib.parse.urlencode(inbound.params),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
            },
        )
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def tipster(
    n: int, channel: str, outcomes: Outcomes, local: threading.local, stack: Stack, env
) -> None:  # type: ignore[no-untyped-def]
    """One tip, sent again after each refusal, as the refusal asks (up to a limit)."""
    for _attempt in range(200):
        try:
            if channel == "web":
                if not hasattr(local, "web"):
                    local.web = WebTipster(stack.web_port)
                status, page = local.web.send(n)
            else:
                status, page = send_sms(local.twilio, env["TIPLINE_PUBLIC_URL"], n)
        except Exception as exc:  # a dropped connection is a defect, not a refusal
            outcomes.odd(f"{channel} tip {n}: {type(exc).__name__}: {exc}")
            return
        if channel == "web":
            accepted = WEB_ACCEPTED.search(page) if status == 200 else None
            refusal = WEB_REFUSALS.get(status)
            refused = refusal is not None and refusal in page.lower()
        else:
            accepted = SMS_ACCEPTED.search(page) if status == 200 else None
            refused = status == 200 and SMS_REFUSAL in page
        if accepted:
            outcomes.accept(channel, accepted.group(1), channel == "web" and with_file(n))
            return
        if not refused:
            outcomes.odd(f"{channel} tip {n}: HTTP {status}: {page[:300]!r}")
            return
        outcomes.refuse(f"{channel} {status}")
        time.sleep(0.1)
    outcomes.odd(f"{channel} tip {n}: still refused after 200 attempts")


def _environment(pg: PrivatePostgres, rds: PrivateRedis, twilio: FakeTwilio, work: Path):
    import base64
    import secrets

    from sqlalchemy import create_engine

    from tipline.crypto import generate_private_key
    from tipline.crypto import recovery as rk
    from tipline.db import make_sessionmaker, transaction
    from tipline.keyring import ensure_unit
    from tipline.migrate import upgrade
    from tipline.triage.config import load_config

    (work / "keys").mkdir()
    (work / "data").mkdir()
    recovery = generate_private_key()
    rk.write_public(work / "keys", recovery.public_key)
    engine = create_engine(pg.url)
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as session:
        for spec in load_config(ROOT / "config").units.values():
            ensure_unit(session, spec.slug, spec.name, recovery.public_key)
    with engine.begin() as conn:
        # Every write of routed_at, committed, leaves a row here: a tip routed twice
        # would leave two. (Only in this test's own database.)
        conn.exec_driver_sql(
            """
            CREATE TABLE test_routings (tip_id integer NOT NULL);
            CREATE FUNCTION test_count_routing() RETURNS trigger AS $$
            BEGIN INSERT INTO test_routings VALUES (NEW.id); RETURN NEW; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER test_count_routing AFTER UPDATE OF routed_at ON tips
              FOR EACH ROW WHEN (NEW.routed_at IS NOT NULL) EXECUTE FUNCTION test_count_routing();
            """
        )
    engine.dispose()

    def b64() -> str:
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIPLINE_", "TWILIO_"))}
    env.update(twilio.env())
    env.update(
        TIPLINE_DATABASE_URL=pg.url, TIPLINE_REDIS_URL=rds.url,
        TIPLINE_DATA_DIR=str(work / "data"), TIPLINE_KEYS_DIR=str(work / "keys"),
        TIPLINE_CONFIG_DIR=str(ROOT / "config"), TIPLINE_PUBLIC_URL=f"http://127.0.0.1:{free_port()}",
        TIPLINE_SECRET_KEY=b64(), TIPLINE_RELAY_KEY=b64(), TIPLINE_PEPPER=b64(),
        TIPLINE_KDF_PROFILE="test", TIPLINE_POW_BITS="0",
        TIPLINE_TIP_RATE_LIMIT="1000000 per hour",
        # Lost work comes back within seconds rather than the production half-minute.
        TIPLINE_SWEEP_SECONDS="2", TIPLINE_WORKER_MAINTENANCE_SECONDS="5",
        PYTHONPATH=str(ROOT),
    )  # fmt: skip
    return env


@pytest.fixture
def plan(long_run: bool) -> Plan:
    if long_run:
        return Plan(
            tips=10_000, kills=100, redis_restarts=3, postgres_outages=3, drain_deadline=300.0
        )
    return Plan(tips=2_000, kills=20, redis_restarts=1, postgres_outages=1)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[PrivatePostgres, PrivateRedis, FakeTwilio, Stack]]:
    with PrivatePostgres() as pg, PrivateRedis() as rds, fake_twilio_server() as twilio:
        env = _environment(pg, rds, twilio, tmp_path)
        stack = Stack(env, tmp_path)
        stack.env = env
        try:
            stack.start()
            yield pg, rds, twilio, stack
        finally:
            stack.stop()


def _faults(plan: Plan, outcomes: Outcomes, pg, rds, stack: Stack, rng: random.Random, log):  # type: ignore[no-untyped-def]
    """Kills, Redis restarts and PostgreSQL outages, at points of the intake's progress."""
    events = [(rng.uniform(0.02, 0.95), "kill") for _ in range(plan.kills)]
    events += [((i + 0.5) / plan.redis_restarts * 0.8, "redis") for i in range(plan.redis_restarts)]
    events += [
        ((i + 0.8) / plan.postgres_outages * 0.8, "postgres") for i in range(plan.postgres_outages)
    ]
    for at, kind in sorted(events):
        while outcomes.done < at * plan.tips:
            time.sleep(0.01)
        started = time.monotonic()
        if kind == "kill":
            stack.kill_a_worker(rng)
        elif kind == "redis":
            rds.restart(plan.redis_down_seconds)
        else:
            pg.outage(plan.postgres_down_seconds)
        log.append(f"{kind} at {outcomes.done} tips ({time.monotonic() - started:.1f} s)")


def _drained(pg: PrivatePostgres, rds: PrivateRedis) -> dict[str, int]:
    import psycopg
    import redis
    from rq import Queue

    with psycopg.connect(pg.admin_dsn.replace("dbname=postgres", "dbname=tipline")) as conn:
        outbox = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]  # type: ignore[index]
        waiting = conn.execute("SELECT count(*) FROM tips WHERE status = 'received'").fetchone()[0]  # type: ignore[index]
    connection = redis.Redis.from_url(rds.url)
    queues = [Queue(f"tipline-{name}", connection=connection) for name in ("intake", "sms")]
    # The maintenance queue also holds the scheduler's own jobs, which come and go:
    # count only the staff notices promised by routing.
    upkeep = Queue("tipline-maintenance", connection=connection)
    notices = [
        job_id
        for ids in (
            upkeep.get_job_ids(),
            upkeep.started_job_registry.get_job_ids(),
            upkeep.failed_job_registry.get_job_ids(),
        )
        for job_id in ids
        if "-notify_staff-" in job_id
    ]
    return {
        "outbox": outbox,
        "unrouted": waiting,
        "queued": sum(q.count for q in queues),
        "started": sum(q.started_job_registry.count for q in queues),
        "failed": sum(q.failed_job_registry.count for q in queues),
        "notices": len(notices),
    }


def test_every_accepted_tip_is_routed_once_through_kills_and_outages(rig, plan, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import psycopg

    pg, rds, twilio, stack = rig
    env = stack.env
    rng = random.Random(int.from_bytes(os.urandom(4)))
    outcomes = Outcomes()
    fault_log: list[str] = []
    local = threading.local()
    channels = ["web", "sms"] * (plan.tips // 2)
    rng.shuffle(channels)

    def run(n: int, channel: str) -> None:
        if channel == "sms" and not hasattr(local, "twilio"):
            local.twilio = twilio
        tipster(n, channel, outcomes, local, stack, env)

    started = time.monotonic()
    faults = threading.Thread(
        target=_faults, args=(plan, outcomes, pg, rds, stack, rng, fault_log), daemon=True
    )
    faults.start()
    with ThreadPoolExecutor(CLIENTS) as pool:
        for result in [pool.submit(run, n, c) for n, c in enumerate(channels)]:
            result.result()
    intake_seconds = time.monotonic() - started
    faults.join(timeout=60)
    assert not faults.is_alive(), "the fault injector never finished"

    # The queue drains by itself: nobody enqueues anything from here on.
    deadline = time.monotonic() + plan.drain_deadline
    state = _drained(pg, rds)
    while any(state.values()) and time.monotonic() < deadline:
        time.sleep(0.5)
        state = _drained(pg, rds)
    drain_seconds = time.monotonic() - started - intake_seconds

    accepted = outcomes.accepted["web"] + outcomes.accepted["sms"]
    summary = (
        f"{plan.tips} tips in {intake_seconds:.1f} s: accepted web {len(outcomes.accepted['web'])}, "
        f"sms {len(outcomes.accepted['sms'])}; refusals {dict(outcomes.refused)}; "
        f"kills {stack.kills}, restarts by the supervisor {dict(stack.exits)}, "
        f"redis restarts {rds.restarts}, postgres outages {pg.stops}; "
        f"drained in {drain_seconds:.1f} s; faults: {fault_log}"
    )
    print(summary)
    assert not outcomes.unexpected, (
        f"{len(outcomes.unexpected)} answers were not a receipt or a plain refusal: {outcomes.unexpected[:5]}"
    )
    assert stack.kills == plan.kills and rds.restarts == plan.redis_restarts
    assert pg.stops == plan.postgres_outages
    assert len(accepted) == plan.tips, summary
    assert sum(outcomes.refused.values()) > 0, (
        "no fault refused anything: the outages missed intake"
    )
    assert not any(state.values()), f"not drained after {plan.drain_deadline:.0f} s: {state}"

    with psycopg.connect(pg.admin_dsn.replace("dbname=postgres", "dbname=tipline")) as conn:
        rows = conn.execute(
            "SELECT reference, channel, status, routed_at IS NOT NULL FROM tips"
        ).fetchall()
        routings = dict(
            conn.execute("SELECT tip_id, count(*) FROM test_routings GROUP BY tip_id").fetchall()
        )
        ids = dict(conn.execute("SELECT reference, id FROM tips").fetchall())
        half_written = conn.execute(
            """
            SELECT t.reference,
                   (SELECT count(*) FROM sealed_items i WHERE i.tip_id = t.id AND i.kind = 'body'),
                   (SELECT count(*) FROM tip_units u WHERE u.tip_id = t.id),
                   (SELECT count(*) FROM tip_key_grants g WHERE g.tip_id = t.id AND left(g.holder, 5) = 'unit:'),
                   (SELECT count(*) FROM tip_key_grants g WHERE g.tip_id = t.id AND g.holder = 'recovery'),
                   (SELECT count(*) FROM tip_key_grants g WHERE g.tip_id = t.id AND g.holder = 'tipster'),
                   t.channel
            FROM tips t
            """
        ).fetchall()
        attachments = conn.execute(
            "SELECT t.reference, i.blob_path FROM sealed_items i JOIN tips t ON t.id = i.tip_id"
            " WHERE i.kind = 'attachment'"
        ).fetchall()

    # Every accepted tip exists once, and no tip exists that no client was told about.
    assert len(set(accepted)) == len(accepted), "one reference was given twice"
    stored = Counter(reference for reference, *_ in rows)
    assert set(stored) == set(accepted), (
        f"told but missing: {sorted(set(accepted) - set(stored))[:5]}; "
        f"stored but never told: {sorted(set(stored) - set(accepted))[:5]}"
    )
    assert max(stored.values()) == 1
    # Routed exactly once.
    assert all(routed and status != "received" for _, _, status, routed in rows)
    twice = {ref: routings.get(ids[ref], 0) for ref in accepted if routings.get(ids[ref]) != 1}
    assert not twice, f"tips not routed exactly once (routings per tip): {list(twice.items())[:5]}"
    # No half-written tip: sealed body, unit rows with their grants, the recovery grant,
    # and (web only) the tipster's grant.
    broken = [
        row
        for row in half_written
        if row[1] != 1
        or row[2] < 1
        or row[3] != row[2]
        or row[4] != 1
        or row[5] != (1 if row[6] == "web" else 0)
    ]
    assert not broken, (
        f"half-written tips (ref, body, units, unit grants, recovery, tipster, channel): {broken[:5]}"
    )
    # Every tip sent with a file has it, once, and every file a row names is on disk.
    data_dir = Path(env["TIPLINE_DATA_DIR"])
    assert outcomes.with_file, "no tip carried a file"
    assert Counter(reference for reference, _ in attachments) == Counter(outcomes.with_file)
    missing = [path for _, path in attachments if not (data_dir / path).is_file()]
    assert not missing, f"rows naming a file that is not on disk: {missing[:5]}"
    named = {path for _, path in attachments}
    unnamed = [
        p
        for p in (data_dir / "attachments").glob("*/*")
        if str(p.relative_to(data_dir)) not in named
    ]
    print(f"files: {len(named)} named by a row, {len(unnamed)} left to the orphan sweep")
