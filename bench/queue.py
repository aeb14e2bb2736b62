"""The investigators' queue at scale: GET /api/v1/queue and the page GET /staff/ over
1,000,000 tips on PostgreSQL, under gunicorn. Target: p95 < 100 ms for every case.

Seeding (the fast bulk path, not the intake path): tips spread over the config's zones
and categories (weighted, a few without a zone), each routed like a real one with
tipline.triage.routing.route (computed once per zone x category x urgent), received over
the last 365 days (truncated to the hour, as intake stores it; ids rise with time), with
statuses that age like a real queue: the last days mostly new or in review, older tips
mostly closed, a tail of stale open ones. Priorities come from routing; assignees, SLA
flags, dispositions and triage/close times follow the status. The rows and their
tip_units (primary + info copies) are written with COPY, ids assigned here (sequences set
afterwards), foreign-key triggers off for the load (session_replication_role = replica;
checked afterwards), then VACUUM ANALYZE, as autovacuum would have left a real table.
No content is sealed: the queue reads only clear routing metadata.

Two staff accounts, made with tipline.keyring and the recovery key like the tests do: an
investigator of one district unit (on-north-general) and a supervisor of every unit. Each
signs in for real: a bearer token (POST /api/v1/auth/token) and a page session (GET then
POST /staff/login with the CSRF token), a TOTP code each time (the replay guard's counter
is reset in the database between two sign-ins of one account).

Timed, per account: the first page (open statuses, newest first), filters (status +
priority + category, zone + oldest first, status=closed, a tag, assignee=me,
sort=priority), and deep pages reached by following next_cursor (keyset pagination; the
walk itself is reported too, then the pages from --deep-page on are timed again). The
same cases on the HTML page with the cookie session, deep pages with the cursors the API
walk collected. Each case: a few warm-up requests, then --requests requests from
--clients connections (default: one, back to back, i.e. latency without self-inflicted
queueing; the load generator shares the machine's cores). Latency percentiles are
nearest-rank, in ms; every case is MET or NOT MET against p95 < 100 ms. Finally the SQL of
the slowest cases is reproduced in-process (tipline.triage.queue.list_queue, statement
captured) and run under EXPLAIN (ANALYZE, BUFFERS); then the same statement is run 15
times on one connection, as a pooled server connection runs it (psycopg prepares it
server-side from the 6th execution, PostgreSQL may then switch to a generic plan made
without the parameter values), each timed, and a generic plan is shown under EXPLAIN too.

    python bench/queue.py [--tips 1000000] [--requests 200] [--clients 1] [--deep-page 500]
                          [--postgres DSN] [--redis URL] [--keep-db]

Creates and drops its own database (--keep-db keeps it for EXPLAIN by hand); uses its own
Redis key prefix; stops its server.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder comes first on sys.path and bench/queue.py would
# shadow the standard library's queue module for everything imported below.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import base64  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.parse  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

from bench.intake import _free_port  # noqa: E402
from bench.sms import _ms  # noqa: E402

if TYPE_CHECKING:
    from tipline.triage.config import TiplineConfig

TARGET_P95_MS = 100.0
INVESTIGATOR_UNIT = "on-north-general"
PAGE_SIZE = 50  # the page's size, and the API's default limit

# Where tips come from and what they are about: a skew, so filters differ in selectivity.
# Zones and categories not named here weigh 1.0.
ZONE_WEIGHTS = {
    "on-central": 25.0,
    "qc-montreal": 22.0,
    "on-east": 17.0,
    "on-north": 12.0,
    "qc-quebec-city": 12.0,
    "qc-laval": 8.0,
}
NO_ZONE_SHARE = 0.03  # tips whose place is unknown (the needs-zone desk)
CATEGORY_WEIGHTS = {
    "drugs": 20.0,
    "property-crime": 18.0,
    "suspicious-activity": 15.0,
    "fraud-scams": 12.0,
    "violent-crime": 8.0,
    "cybercrime": 6.0,
    "weapons": 5.0,
    "organized-crime": 4.0,
    "wanted-person": 4.0,
    "missing-person": 3.0,
    "other": 3.0,
    "human-trafficking": 2.0,
}
URGENT_SHARE = 0.04  # urgent words found: priority one step up
SMS_SHARE = 0.30
# Status by age of the tip: (hours at most, ((status, weight), ...)), first match wins.
STATUS_BY_AGE = (
    (48, (("new", 70), ("in_review", 25), ("actioned", 3), ("referred", 2))),
    (
        30 * 24,
        (("new", 10), ("in_review", 30), ("actioned", 15), ("referred", 5), ("closed", 40)),
    ),
    (
        365 * 24,
        (("closed", 970), ("new", 5), ("in_review", 15), ("actioned", 7), ("referred", 3)),
    ),
)

TIP_COLUMNS = (
    "id", "reference", "channel", "zone", "category", "priority", "urgent_words", "status",
    "disposition", "received_at", "routed_at", "public_key", "key_version", "reply_waiting",
    "assignee_id", "closed_at", "triaged_at", "sla_breached",
)  # fmt: skip

# The cases: (label, query string). Each runs for both accounts, on the API and the page.
FILTERS = (
    ("first page (open, newest)", ""),
    ("status=new&priority=high&category=drugs", "status=new&priority=high&category=drugs"),
    ("zone=on-north&sort=oldest", "zone=on-north&sort=oldest"),
    ("status=closed", "status=closed"),
    ("tag=follow-up (no tags exist)", "tag=follow-up"),
    ("assignee=me", "assignee=me"),
    ("sort=priority", "sort=priority"),
)
# Deep pages: (account, query string, first timed page; None: --deep-page).
DEEP = (
    ("investigator", "", 50),  # the district's open queue is about 200 pages long
    ("investigator", "status=closed", None),
    ("investigator", "status=closed&sort=priority", None),
    ("supervisor", "", None),
    ("supervisor", "sort=priority", None),
)


@dataclass
class Account:
    name: str
    email: str
    password: str
    totp_secret: str
    staff_id: int = 0
    token: str = ""  # bearer token
    cookie: str = ""  # page session cookie ("name=value")


@dataclass
class Result:
    case: str
    account: str
    surface: str  # "API" or "page"
    rows: str  # matching rows, or the pages timed
    ok: int
    errors: int
    rps: float
    p50: float
    p95: float
    p99: float
    max: float
    query: str = ""
    cursor: str | None = None  # for a deep page: the cursor of its first timed page

    @property
    def met(self) -> bool:
        return self.errors == 0 and self.ok > 0 and self.p95 < TARGET_P95_MS


@dataclass
class Timed:
    latencies: list[float] = field(default_factory=list)  # seconds
    errors: int = 0
    elapsed: float = 0.0


# --- seeding ------------------------------------------------------------------------


def _weighted(rng: random.Random, weights: dict[str, float], k: int) -> list[str]:
    names = list(weights)
    return rng.choices(names, weights=[weights[n] for n in names], k=k)


def seed(
    dsn: str,
    config: TiplineConfig,
    unit_ids: dict[str, int],
    investigator: Account,
    supervisor: Account,
    tips: int,
    rng: random.Random,
) -> dict[str, Any]:
    """COPY ``tips`` tips and their tip_units rows; returns counts and timings."""
    import psycopg
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from tipline.intake.service import _REFERENCE_ALPHABET, REFERENCE_LENGTH
    from tipline.triage.config import DISPOSITIONS
    from tipline.triage.routing import route

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    hours = 365 * 24
    # Routing once per (zone, category, urgent): priority and the tip_units (unit, role).
    routes: dict[tuple[str | None, str, bool], tuple[str, str, tuple[tuple[int, str], ...]]] = {}
    for zone in (*config.zones, None):
        for category in config.categories:
            for urgent in (False, True):
                r = route(config, zone, category, urgent)
                units = ((unit_ids[r.primary], "primary"),) + tuple(
                    (unit_ids[slug], "info") for slug in r.info_only
                )
                routes[(zone, category, urgent)] = (r.priority, r.primary, units)
    zone_weights = {z: ZONE_WEIGHTS.get(z, 1.0) for z in config.zones}
    category_weights = {c: CATEGORY_WEIGHTS.get(c, 1.0) for c in config.categories}
    triage_hours = config.policy.first_triage_hours

    def stamp(hour: int) -> str:  # hours before now -> a COPY timestamp
        return (now - timedelta(hours=hour)).strftime("%Y-%m-%d %H:%M:%S+00")

    stamps = [stamp(h) for h in range(hours + 1)]
    status_tables = [
        (limit, [s for s, _ in table], [w for _, w in table]) for limit, table in STATUS_BY_AGE
    ]

    # Ages drawn first and sorted oldest first, so ids rise with received_at as in life.
    ages = sorted((rng.randrange(hours) for _ in range(tips)), reverse=True)
    zones = _weighted(rng, zone_weights, tips)
    categories = _weighted(rng, category_weights, tips)
    public_key = "\\\\x" + secrets.token_bytes(32).hex()  # one dummy key: never decrypted
    references: set[str] = set()
    inv_id, sup_id = investigator.staff_id, supervisor.staff_id

    counts: dict[str, Any] = {"tips": 0, "tip_units": 0, "open": 0}
    started = time.perf_counter()
    with (
        psycopg.connect(dsn) as conn,
        Progress(
            TextColumn("{task.description:10s}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ) as progress,
    ):
        try:
            # Our own rows, consistent by construction: no per-row foreign-key triggers.
            conn.execute("SET session_replication_role = replica")
            fk_note = "foreign-key triggers off during the load"
        except psycopg.Error:
            conn.rollback()
            fk_note = "foreign-key triggers on (not a superuser)"
        conn.execute("SET synchronous_commit = off")
        task_tips = progress.add_task("tips", total=tips, rate="")
        task_units = progress.add_task("tip_units", total=None, rate="")
        unit_chunks: list[str] = []
        unit_row = 0
        batch = 10_000
        with conn.cursor() as cur:
            with cur.copy(f"COPY tips ({', '.join(TIP_COLUMNS)}) FROM STDIN") as copy:
                for start in range(0, tips, batch):
                    lines: list[str] = []
                    unit_lines: list[str] = []
                    for i in range(start, min(start + batch, tips)):
                        tip_id = i + 1
                        age = ages[i]
                        zone = None if rng.random() < NO_ZONE_SHARE else zones[i]
                        category = categories[i]
                        urgent = rng.random() < URGENT_SHARE
                        priority, primary, units = routes[(zone, category, urgent)]
                        for limit, names, weights in status_tables:
                            if age < limit:
                                status = rng.choices(names, weights)[0]
                                break
                        reference = "".join(rng.choices(_REFERENCE_ALPHABET, k=REFERENCE_LENGTH))
                        while reference in references:
                            reference = "".join(
                                rng.choices(_REFERENCE_ALPHABET, k=REFERENCE_LENGTH)
                            )
                        references.add(reference)
                        is_open = status != "closed"
                        counts["open"] += is_open
                        if status in ("new", "referred"):
                            assignee = "\\N"
                        elif primary == INVESTIGATOR_UNIT and rng.random() < 0.5:
                            assignee = str(inv_id)
                        else:
                            assignee = str(sup_id)
                        breached = status in ("new", "referred") and age > triage_hours[priority]
                        lines.append(
                            "\t".join(
                                (
                                    str(tip_id),
                                    reference,
                                    "sms" if rng.random() < SMS_SHARE else "web",
                                    zone or "\\N",
                                    category,
                                    priority,
                                    "t" if urgent else "f",
                                    status,
                                    rng.choice(DISPOSITIONS) if not is_open else "\\N",
                                    stamps[age],
                                    stamps[age],
                                    public_key,
                                    "1",
                                    "t" if is_open and rng.random() < 0.03 else "f",
                                    assignee,
                                    stamps[age - min(age, rng.randint(24, 60 * 24))]
                                    if not is_open
                                    else "\\N",
                                    stamps[age - min(age, rng.randint(1, 48))]
                                    if status != "new"
                                    else "\\N",
                                    "t" if breached else "f",
                                )
                            )
                        )
                        for unit_id, role in units:
                            unit_row += 1
                            unit_lines.append(f"{unit_row}\t{tip_id}\t{unit_id}\t{role}")
                    copy.write("\n".join(lines) + "\n")
                    unit_chunks.append("\n".join(unit_lines) + "\n")
                    done = min(start + batch, tips)
                    progress.update(
                        task_tips,
                        completed=done,
                        rate=f"{done / (time.perf_counter() - started):,.0f} rows/s",
                    )
            counts["tips"] = tips
            tips_seconds = time.perf_counter() - started
            progress.update(task_units, total=unit_row)
            units_started = time.perf_counter()
            with cur.copy("COPY tip_units (id, tip_id, unit_id, role) FROM STDIN") as copy:
                written = 0
                for chunk in unit_chunks:
                    copy.write(chunk)
                    written += chunk.count("\n")
                    progress.update(task_units, completed=written)
            progress.update(
                task_units,
                rate=f"{unit_row / (time.perf_counter() - units_started):,.0f} rows/s",
            )
            counts["tip_units"] = unit_row
            # Ids were ours: the sequences go on after them.
            cur.execute("SELECT setval(pg_get_serial_sequence('tips', 'id'), %s)", (tips,))
            cur.execute("SELECT setval(pg_get_serial_sequence('tip_units', 'id'), %s)", (unit_row,))
        conn.commit()
    load_seconds = time.perf_counter() - started
    with psycopg.connect(dsn, autocommit=True) as conn:
        vacuum_started = time.perf_counter()
        conn.execute("VACUUM (ANALYZE) tips, tip_units")
        vacuum_seconds = time.perf_counter() - vacuum_started
        # The checks the triggers did not make, once for all rows.
        orphans = conn.execute(
            "SELECT (SELECT count(*) FROM tip_units tu LEFT JOIN tips t ON t.id = tu.tip_id"
            " WHERE t.id IS NULL) + (SELECT count(*) FROM tip_units tu LEFT JOIN units u"
            " ON u.id = tu.unit_id WHERE u.id IS NULL) + (SELECT count(*) FROM tips t"
            " LEFT JOIN staff s ON s.id = t.assignee_id WHERE t.assignee_id IS NOT NULL"
            " AND s.id IS NULL)"
        ).fetchone()[0]  # type: ignore[index]
        size = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('tips') + pg_total_relation_size('tip_units'))"
        ).fetchone()[0]  # type: ignore[index]
    if orphans:
        raise SystemExit(f"seeding wrote {orphans} rows that break a foreign key")
    return {
        **counts,
        "tips_seconds": tips_seconds,
        "units_seconds": load_seconds - tips_seconds,
        "load_seconds": load_seconds,
        "vacuum_seconds": vacuum_seconds,
        "size": size,
        "fk_note": fk_note,
    }


# --- HTTP ---------------------------------------------------------------------------


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    found = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, value = header.split(";", 1)[0].partition("=")
        found[name.strip()] = value.strip()
    return found


def api_token(port: int, dsn: str, account: Account) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = json.dumps(
            {
                "email": account.email,
                "password": account.password,
                "totp": _totp(dsn, account),
            }
        )
        conn.request(
            "POST", "/api/v1/auth/token", body=body, headers={"Content-Type": "application/json"}
        )
        response = conn.getresponse()
        payload = response.read()
        if response.status != 201:
            raise SystemExit(f"token for {account.email}: {response.status} {payload[:300]!r}")
        return json.loads(payload)["token"]
    finally:
        conn.close()


def page_session(port: int, dsn: str, account: Account) -> str:
    """Sign in as a browser does; returns the session cookie ("name=value")."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/staff/login")
        response = conn.getresponse()
        page = response.read().decode()
        csrf_cookie = _cookies(response)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        if response.status != 200 or match is None or not csrf_cookie:
            raise SystemExit(f"GET /staff/login: {response.status}, no CSRF token or cookie")
        form = {
            "csrf_token": match.group(1),
            "email": account.email,
            "password": account.password,
            "totp": _totp(dsn, account),
        }
        conn.request(
            "POST",
            "/staff/login",
            body=urllib.parse.urlencode(form),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": "; ".join(f"{k}={v}" for k, v in csrf_cookie.items()),
            },
        )
        response = conn.getresponse()
        response.read()
        session = {k: v for k, v in _cookies(response).items() if "staff" in k and v}
        if response.status not in (302, 303) or len(session) != 1:
            raise SystemExit(f"POST /staff/login for {account.email}: {response.status}")
        return "; ".join(f"{k}={v}" for k, v in session.items())
    finally:
        conn.close()


def _totp(dsn: str, account: Account) -> str:
    """A fresh code, after resetting the account's replay guard (one code per 30 s step)."""
    import psycopg
    import pyotp

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE staff SET totp_last_counter = 0 WHERE id = %s", (account.staff_id,))
    return pyotp.TOTP(account.totp_secret).now()


def _headers(surface: str, account: Account) -> dict[str, str]:
    if surface == "API":
        return {"Authorization": f"Bearer {account.token}", "Accept": "application/json"}
    return {"Cookie": account.cookie}


def _get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def _ok(surface: str, status: int, body: bytes) -> bool:
    if status != 200:
        return False
    if surface == "API":
        return b'"items"' in body
    return b'id="queue"' in body or b'id="queue-empty"' in body


def drive(
    port: int,
    surface: str,
    account: Account,
    paths: list[str],
    requests: int,
    clients: int,
    warmup: int,
) -> Timed:
    """Warm up, then ``requests`` GETs of ``paths`` (in turn) from ``clients`` connections."""
    headers = _headers(surface, account)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in range(warmup):
        _get(conn, paths[i % len(paths)], headers)
    conn.close()
    out = Timed()
    lock = threading.Lock()
    counter = [0]

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies: list[float] = []
        errors = 0
        while True:
            with lock:
                k = counter[0]
                counter[0] += 1
            if k >= requests:
                break
            path = paths[k % len(paths)]
            started = time.perf_counter()
            try:
                status, body = _get(conn, path, headers)
            except (OSError, http.client.HTTPException):
                conn.close()
                status, body = -1, b""
            elapsed = time.perf_counter() - started
            if _ok(surface, status, body):
                latencies.append(elapsed)
            else:
                errors += 1
        conn.close()
        with lock:
            out.latencies.extend(latencies)
            out.errors += errors

    threads = [threading.Thread(target=run) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.elapsed = time.perf_counter() - started
    return out


def walk(
    port: int, account: Account, query: str, pages: int
) -> tuple[list[str | None], list[float], int]:
    """Follow next_cursor from page 1 for up to ``pages`` pages (API, one connection).

    Returns the cursor of each page reached (None for page 1), each page's latency and
    the errors."""
    headers = _headers("API", account)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    cursors: list[str | None] = [None]
    latencies: list[float] = []
    errors = 0
    try:
        while len(latencies) < pages:
            started = time.perf_counter()
            status, body = _get(conn, _path("API", query, cursors[-1]), headers)
            elapsed = time.perf_counter() - started
            if status != 200:
                errors += 1
                break
            latencies.append(elapsed)
            cursor = json.loads(body)["next_cursor"]
            if cursor is None:
                break
            cursors.append(cursor)
    finally:
        conn.close()
    return cursors[: len(latencies)], latencies, errors


def _path(surface: str, query: str, cursor: str | None = None) -> str:
    base = "/api/v1/queue" if surface == "API" else "/staff/"
    params = "&".join(p for p in (query, f"cursor={cursor}" if cursor else "") if p)
    return base + ("?" + params if params else "")


def summarize(case: str, account: str, surface: str, rows: str, timed: Timed) -> Result:
    lat = sorted(timed.latencies)
    nan = float("nan")
    return Result(
        case,
        account,
        surface,
        rows,
        len(lat),
        timed.errors,
        len(lat) / timed.elapsed if timed.elapsed else nan,
        _ms(lat, 0.50) if lat else nan,
        _ms(lat, 0.95) if lat else nan,
        _ms(lat, 0.99) if lat else nan,
        lat[-1] * 1000 if lat else nan,
    )


def print_row(r: Result) -> None:
    verdict = "MET" if r.met else "NOT MET"
    errors = f" ({r.errors} errors)" if r.errors else ""
    print(
        f"{r.surface:4s} {r.account:12s} {r.case:42s} {r.rows:>16s} {r.p50:7.1f} {r.p95:7.1f} "
        f"{r.p99:7.1f} {r.max:7.1f} {r.rps:7.1f}  {verdict}{errors}",
        flush=True,
    )


HEADER = (
    f"{'':4s} {'account':12s} {'case':42s} {'rows / pages':>16s} {'p50':>7s} {'p95':>7s} "
    f"{'p99':>7s} {'max':>7s} {'req/s':>7s}  p95 < {TARGET_P95_MS:.0f} ms"
)


# --- the SQL, in-process --------------------------------------------------------------


class Capture:
    """The queue's main SELECT as list_queue sends it (statement and parameters)."""

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        from sqlalchemy import event

        self.engine = engine
        self.seen: list[tuple[str, object]] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        self.seen.append((statement, parameters))

    def main_query(self, account: Account, query: str, cursor: str | None) -> tuple[str, object]:
        from sqlalchemy.orm import Session

        from tipline.models.base import utcnow
        from tipline.staff.reading import reader_units
        from tipline.triage.queue import list_queue, parse_filter

        args = dict(urllib.parse.parse_qsl(query))
        with Session(self.engine) as session:
            units = reader_units(session, account.staff_id)
            self.seen.clear()
            list_queue(
                session,
                units,
                parse_filter(args),
                actor_id=account.staff_id,
                now=utcnow(),
                limit=PAGE_SIZE,
                cursor=cursor,
            )
        for statement, parameters in self.seen:
            if "ORDER BY" in statement and "\nFROM tips" in statement:
                return statement, parameters
        raise RuntimeError("list_queue's main query was not captured")

    def count(self, account: Account, query: str) -> int:
        statement, parameters = self.main_query(account, query, None)
        counting = (
            "SELECT count(*)"
            + statement[statement.index("\nFROM tips") : statement.rindex("ORDER BY")]
        )
        with self.engine.connect() as conn:
            return conn.exec_driver_sql(counting, parameters).scalar()  # type: ignore[arg-type]

    def explain(self, account: Account, query: str, cursor: str | None) -> tuple[str, str]:
        """The plan a fresh connection gets: parameters known, a custom plan."""
        statement, parameters = self.main_query(account, query, cursor)
        with self.engine.connect() as conn:
            conn.exec_driver_sql(statement, parameters)  # type: ignore[arg-type]  # warm
            plan = conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement,
                parameters,  # type: ignore[arg-type]
            ).all()
        return statement, "\n".join(row[0] for row in plan)

    def explain_reused(
        self, account: Account, query: str, cursor: str | None, runs: int = 15
    ) -> tuple[list[float], int, int, str]:
        """What a long-lived pooled connection ends up running.

        psycopg prepares a statement server-side from its 6th execution on a connection
        (prepare_threshold 5) and PostgreSQL switches a prepared statement to a generic
        plan, made without the parameter values, after 5 custom plans if it looks no
        dearer. The same statement ``runs`` times on one connection, each timed, then the
        prepared statement's plan under EXPLAIN ANALYZE. (A rollback makes psycopg
        deallocate everything, so a request that ends in one starts afresh.)
        """
        from psycopg import sql

        statement, parameters = self.main_query(account, query, cursor)
        names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", statement)))  # $1, $2, …
        times = []
        with self.engine.connect() as conn:
            dbapi = conn.connection.dbapi_connection
            with dbapi.cursor() as cur:  # type: ignore[union-attr]
                for _ in range(runs):
                    started = time.perf_counter()
                    cur.execute(statement, parameters)
                    cur.fetchall()
                    times.append((time.perf_counter() - started) * 1000)
                row = cur.execute(
                    "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements"
                    " WHERE statement LIKE '%FROM tips%ORDER BY%'"
                ).fetchone()
                if row is None:
                    return times, 0, 0, ""
                name, generic, custom = row
                cur.execute(
                    sql.SQL("EXPLAIN (ANALYZE, BUFFERS) EXECUTE {}({})").format(
                        sql.Identifier(name),
                        sql.SQL(", ").join(sql.Literal(parameters[k]) for k in names),  # type: ignore[index]
                    )
                )
                plan = "\n".join(r[0] for r in cur.fetchall())
        return times, generic, custom, plan


# --- main ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tips", type=int, default=1_000_000, help="tips to seed")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per case")
    parser.add_argument("--clients", type=int, default=1, help="connections per case")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per case")
    parser.add_argument("--deep-page", type=int, default=500, help="first timed deep page")
    parser.add_argument("--explain", type=int, default=3, help="slowest cases to EXPLAIN")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the data")
    parser.add_argument("--postgres", default="host=127.0.0.1 port=5432 dbname=test user=postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--keep-db", action="store_true", help="keep the database at the end")
    args = parser.parse_args()
    if args.tips < 1 or args.requests < 1 or args.clients < 1 or args.deep_page < 2:
        parser.error("--tips, --requests and --clients must be at least 1, --deep-page 2")

    import psycopg
    import redis
    from sqlalchemy import create_engine

    from tipline.crypto import KdfProfile, generate_private_key
    from tipline.crypto import recovery as rk
    from tipline.db import make_sessionmaker, transaction
    from tipline.keyring import add_staff, ensure_unit, grant_unit, unit_key_from_recovery
    from tipline.migrate import upgrade
    from tipline.triage.config import load_config

    # Setup as in bench/sms.py: own database, own Redis prefix, own secrets.
    dbname = f"tipline_bench_{uuid.uuid4().hex[:10]}"
    params = dict(p.split("=", 1) for p in args.postgres.split())
    host, port_, user = (
        params.get("host", "127.0.0.1"),
        params.get("port", "5432"),
        params.get("user", "postgres"),
    )
    url = f"postgresql+psycopg://{user}@{host}:{port_}/{dbname}"
    dsn = f"host={host} port={port_} dbname={dbname} user={user}"
    prefix = f"tlbench-{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="tipline-bench-"))
    with psycopg.connect(args.postgres, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    server = None
    failed = True
    engine = None
    try:
        engine = create_engine(url)
        upgrade(engine)
        recovery = generate_private_key()
        rk.write_public(workdir / "keys", recovery.public_key)
        config = load_config(ROOT / "config")
        kdf = KdfProfile.for_tests()  # sign-in is not what is measured; the server agrees
        with transaction(make_sessionmaker(engine)) as session:
            units = {
                spec.slug: ensure_unit(session, spec.slug, spec.name, recovery.public_key)
                for spec in config.units.values()
            }
            accounts: dict[str, Account] = {}
            for name, role, slugs in (
                ("investigator", "investigator", (INVESTIGATOR_UNIT,)),
                ("supervisor", "supervisor", tuple(units)),
            ):
                created = add_staff(session, f"{name}@bench.test", role, kdf)
                for slug in slugs:
                    grant_unit(
                        session,
                        created.staff,
                        units[slug],
                        unit_key=unit_key_from_recovery(session, units[slug], recovery),
                    )
                accounts[name] = Account(
                    name, created.staff.email, created.password, created.totp_secret
                )
                accounts[name].staff_id = created.staff.id
            unit_ids = {slug: unit.id for slug, unit in units.items()}
        inv, sup = accounts["investigator"], accounts["supervisor"]

        print(
            f"seeding {args.tips:,} tips over {len(config.zones)} zones (+ {NO_ZONE_SHARE:.0%} "
            f"without) x {len(config.categories)} categories into {dbname}",
            flush=True,
        )
        stats = seed(dsn, config, unit_ids, inv, sup, args.tips, random.Random(args.seed))
        rows = stats["tips"] + stats["tip_units"]
        print(
            f"seeded {stats['tips']:,.0f} tips ({stats['open']:,.0f} open) in "
            f"{stats['tips_seconds']:.1f} s ({stats['tips'] / stats['tips_seconds']:,.0f} rows/s) "
            f"and {stats['tip_units']:,.0f} tip_units in {stats['units_seconds']:.1f} s "
            f"({stats['tip_units'] / stats['units_seconds']:,.0f} rows/s): "
            f"{rows:,.0f} rows in {stats['load_seconds']:.1f} s ({rows / stats['load_seconds']:,.0f} rows/s, "
            f"COPY, {stats['fk_note']}); VACUUM ANALYZE {stats['vacuum_seconds']:.1f} s; "
            f"tips + tip_units on disk {stats['size']}",
            flush=True,
        )

        def b64() -> str:
            return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()

        port = _free_port()
        env = dict(os.environ)
        env.update(
            TIPLINE_DATABASE_URL=url, TIPLINE_REDIS_URL=args.redis, TIPLINE_REDIS_PREFIX=prefix,
            TIPLINE_DATA_DIR=str(workdir / "data"), TIPLINE_KEYS_DIR=str(workdir / "keys"),
            TIPLINE_CONFIG_DIR=str(ROOT / "config"), TIPLINE_SECRET_KEY=b64(), TIPLINE_RELAY_KEY=b64(),
            TIPLINE_PEPPER=b64(), PYTHONPATH=str(ROOT), TIPLINE_KDF_PROFILE="test",
            # A long run must not outlive the sessions' inactivity timeout.
            TIPLINE_STAFF_SESSION_MINUTES="240",
        )  # fmt: skip
        log = workdir / "gunicorn.log"
        # Started and stopped as in bench/sms.py.
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
        for account in (inv, sup):
            account.token = api_token(port, dsn, account)
            account.cookie = page_session(port, dsn, account)
        print(
            f"signed in: {inv.email} (member of {INVESTIGATOR_UNIT}) and {sup.email} "
            f"(member of all {len(units)} units), a bearer token and a page session each",
            flush=True,
        )

        capture = Capture(engine)
        results: list[Result] = []
        print(
            f"\ngunicorn {args.workers} workers; per case {args.warmup} warm-up + "
            f"{args.requests} timed requests from {args.clients} connection(s); ms, nearest rank\n"
        )
        print(HEADER)
        counts: dict[tuple[str, str], int] = {}
        for surface in ("API", "page"):
            for label, query in FILTERS:
                for account in (inv, sup):
                    if (account.name, query) not in counts:
                        counts[(account.name, query)] = capture.count(account, query)
                    timed = drive(
                        port,
                        surface,
                        account,
                        [_path(surface, query)],
                        args.requests,
                        args.clients,
                        args.warmup,
                    )
                    result = summarize(
                        label,
                        account.name,
                        surface,
                        f"{counts[(account.name, query)]:,} rows",
                        timed,
                    )
                    result.query = query
                    results.append(result)
                    print_row(result)

        # Deep pages: walk there by next_cursor (timed: the walk row), then time the pages
        # from the start page on again, on the API and on the page (same cursors).
        walked: dict[tuple[str, str], tuple[int, list[str | None]]] = {}
        for name, query, first in DEEP:
            account = accounts[name]
            start = first or args.deep_page
            cursors, latencies, errors = walk(port, account, query, start - 1 + args.requests)
            walked[(name, query)] = (start, cursors)
            label = f"walk: {query or 'open, newest'}"
            result = summarize(
                label,
                name,
                "API",
                f"p1-{len(cursors)}",
                Timed(latencies, errors, sum(latencies)),
            )
            result.query = query
            results.append(result)
            print_row(result)
        for surface in ("API", "page"):
            for name, query, _ in DEEP:
                account = accounts[name]
                start, cursors = walked[(name, query)]
                deep = cursors[start - 1 :] or cursors[-1:]
                first_page = len(cursors) - len(deep) + 1
                timed = drive(
                    port,
                    surface,
                    account,
                    [_path(surface, query, c) for c in deep],
                    args.requests,
                    args.clients,
                    args.warmup,
                )
                result = summarize(
                    f"deep: {query or 'open, newest'}",
                    name,
                    surface,
                    f"p{first_page}-{first_page + len(deep) - 1}",
                    timed,
                )
                result.query, result.cursor = query, deep[0]
                results.append(result)
                print_row(result)

        missed = [r for r in results if not r.met]
        print(
            f"\n{len(results) - len(missed)} of {len(results)} cases MET p95 < {TARGET_P95_MS:.0f} ms"
            + (
                "; NOT MET: "
                + "; ".join(f"{r.surface} {r.account} {r.case} ({r.p95:.0f} ms)" for r in missed)
                if missed
                else ""
            )
        )

        # The slowest distinct queries, in-process under EXPLAIN (ANALYZE, BUFFERS).
        explained: set[tuple[str, str, bool]] = set()
        slowest = sorted(
            (r for r in results if r.ok), key=lambda r: r.p95, reverse=True
        )  # walks included: their SQL is the deep one's
        for r in slowest:
            if len(explained) >= args.explain:
                break
            key = (r.account, r.query, r.cursor is not None)
            if key in explained or r.case.startswith("walk"):
                continue
            explained.add(key)
            statement, plan = capture.explain(accounts[r.account], r.query, r.cursor)
            print(
                f"\n--- EXPLAIN (ANALYZE, BUFFERS): {r.surface} {r.account} {r.case} "
                f"(p95 {r.p95:.1f} ms over HTTP)\n{statement}\n\n{plan}"
            )
            times, generic, custom, reused = capture.explain_reused(
                accounts[r.account], r.query, r.cursor
            )
            print(
                f"\n--- the same statement {len(times)} times on one connection, as a pooled "
                f"server connection runs it (psycopg prepares it from the 6th execution; "
                f"PostgreSQL made {custom} custom and {generic} generic plans), ms:\n"
                + " ".join(f"{t:.1f}" for t in times)
            )
            if generic:
                print(f"\nthe prepared statement's generic plan:\n\n{reused}")
        failed = False
        return 0 if all(r.errors == 0 for r in results) else 1
    finally:
        if engine is not None:
            engine.dispose()
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
        if args.keep_db:
            print(f"\ndatabase kept: {dsn}")
        else:
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        if failed and (workdir / "gunicorn.log").exists():
            print(f"(gunicorn log kept: {workdir / 'gunicorn.log'})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
