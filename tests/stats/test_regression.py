"""The 30 demo tips of issue 15, through the real dashboard, its downloads, the API, the
CLI and the public page: before, the dashboard's tables added up to one Ontario
organized-crime tip in North District. Now every number any of them shows is one of the
month's release, and the adversary pins nothing."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest

from tests.conftest import settings_env
from tests.stats import attack
from tests.stats.support import add_tips
from tests.support.api import bearer
from tests.support.forms import sign_in
from tests.test_cli import tipline
from tipline.stats.catalogue import groupings
from tipline.triage.config import TiplineConfig

pytestmark = pytest.mark.embedded

K = 5
OCTOBER = date(2026, 10, 1)


def _demo() -> list[dict]:
    """Drugs 9, fraud 10, "other" 9, organized crime 1 (North District), weapons 1."""
    tips = []
    spread = {
        "drugs": (("on-north", 3), ("on-central", 3), ("qc-montreal", 3)),
        "fraud-scams": (("on-east", 4), ("qc-laval", 3), ("qc-montreal", 3)),
        "other": (("on-north", 3), ("on-central", 3), ("qc-quebec-city", 3)),
        "organized-crime": (("on-north", 1),),
        "weapons": (("qc-laval", 1),),
    }
    n = 0
    for category, places in spread.items():
        for zone, count in places:
            for _ in range(count):
                status = ("new", "in_review", "closed")[n % 3]
                tips.append(
                    {
                        "zone": zone,
                        "category": category,
                        "channel": "web" if n % 4 else "sms",
                        "priority": "high"
                        if category in ("organized-crime", "weapons")
                        else "normal",
                        "status": status,
                        "disposition": ("arrest" if n % 2 else "unfounded")
                        if status == "closed"
                        else None,
                        "day": OCTOBER + timedelta(days=20 + n % 3),
                    }
                )
                n += 1
    return tips


DEMO_30 = _demo()


def _insert(runtime) -> None:  # type: ignore[no-untyped-def]
    rows = []
    for tip in DEMO_30:
        received = datetime(tip["day"].year, tip["day"].month, tip["day"].day, 16, tzinfo=UTC)
        row = {k: v for k, v in tip.items() if k != "day"}
        row["received_at"] = received
        row["triaged_at"] = received + timedelta(hours=2) if row["status"] != "new" else None
        row["closed_at"] = received + timedelta(hours=8) if row["status"] == "closed" else None
        rows.append(row)
    add_tips(runtime, rows)


def _province(config: TiplineConfig, zone: str | None) -> str:
    return config.zones[zone].province if zone in config.zones else "needs-zone"


def per_table(config: TiplineConfig, tips: list[dict], k: int) -> list[dict]:
    """What publishing each table on its own gave (the old way): small cells withheld,
    and in each table, under each total, the smallest other cell withheld with a lone
    withheld one (or the total itself). Answers shaped like the API's."""
    answers = []
    for keys in groupings("month"):
        if not keys:
            continue

        def value(tip: dict, key: str) -> str:  # type: ignore[type-arg]
            if key == "province":
                return _province(config, tip["zone"])
            if key == "zone":
                return tip["zone"] or "needs-zone"
            if key == "disposition":
                return tip["disposition"] or "none"
            return str(tip[key])

        cells: dict[tuple[str, ...], int] = {}
        for tip in tips:
            key = tuple(value(tip, k_) for k_ in keys)
            cells[key] = cells.get(key, 0) + 1
        totals: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for summed in range(1, len(keys) + 1):
            for positions in itertools.combinations(range(len(keys)), summed):
                for key in cells:
                    total = tuple("*" if i in positions else part for i, part in enumerate(key))
                    totals.setdefault(total, []).append(key)
        hidden = {key for key, n in cells.items() if n < k}
        hidden_totals = {t for t, m in totals.items() if sum(cells[x] for x in m) < k}
        changed = True
        while changed:
            changed = False
            for total, members in totals.items():
                if total in hidden_totals:
                    continue
                inside = [m for m in members if m in hidden]
                if len(inside) != 1:
                    continue
                others = sorted((m for m in members if m not in hidden), key=lambda m: cells[m])
                if others:
                    hidden.add(others[0])
                else:
                    hidden_totals.add(total)
                changed = True
        answers.append(
            {
                "method": {
                    "from": OCTOBER.isoformat(),
                    "to": "2026-10-31",
                    "period": "month",
                    "grouping": list(keys),
                    "rounding": "none",
                },
                "cells": [
                    {**dict(zip(keys, key, strict=True)), "count": None if key in hidden else n}
                    for key, n in cells.items()
                ],
                "totals": [
                    {
                        **dict(zip(keys, total, strict=True)),
                        "count": None if total in hidden_totals else sum(cells[m] for m in members),
                    }
                    for total, members in totals.items()
                ],
            }
        )
    return answers


def _api(app, world):  # type: ignore[no-untyped-def]
    api = app.test_client()
    return api, bearer(api, world["chief"])


def test_the_30_demo_tips_pin_nothing_anywhere(app, runtime, world, settings, make_account) -> None:  # type: ignore[no-untyped-def]
    _insert(runtime)
    api, headers = _api(app, world)
    holding = attack.Holding()
    numbers: set[int] = set()
    for period in ("month", "week", "day"):
        start, end = {
            "month": (OCTOBER, date(2026, 10, 31)),
            "week": (date(2026, 9, 28), date(2026, 11, 1)),
            "day": (OCTOBER, date(2026, 10, 31)),
        }[period]
        for keys in groupings(period):
            for by in ([*keys, "period"], list(keys)):
                if not by:
                    continue
                answer = api.get(
                    f"/api/v1/stats?by={','.join(by)}&period={period}&from={start}&to={end}",
                    headers=headers,
                )
                assert answer.status_code == 200, answer.get_data(as_text=True)
                data = answer.get_json()
                holding.add_answer(data)
                numbers |= {e["count"] for e in [*data["cells"], *data["totals"]] if e["count"]}
    # The lone organized-crime tip is withheld in every answer.
    oc = [n for n in holding.numbers if ("category", "organized-crime") in n.keys]
    assert oc and all(n.count is None for n in oc)

    # The dashboard, its downloads, the CLI and the public page show only those numbers.
    chief = app.test_client()
    sign_in(chief, make_account("board@example.test", "supervisor"))
    page = chief.get("/staff/stats?from=2026-10&to=2026-10&grid=week")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    shown = {int(n) for n in re.findall(r": (\d+)</title>", html)}
    assert shown <= numbers, shown - numbers
    for link in re.findall(r'href="(/staff/stats/export\?[^"]+)"', html):
        download = chief.get(unescape(link))
        assert download.status_code == 200
        text = download.data.decode("utf-8-sig")
        if "format=csv" in link:
            lines = [line for line in text.splitlines() if not line.startswith("#")]
            rows = csv.DictReader(io.StringIO("\n".join(lines)))
            values = {int(r["count"]) for r in rows if r["count"]}
        else:
            values = {int(n) for n in re.findall(r'"count": ?(\d+)', text)}
        assert values <= numbers | {0}, (link, values - numbers)
    done = tipline(
        settings_env(settings), "stats", "export", "--by", "category", "--from", "2026-10-01",
        "--to", "2026-10-31", "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    cli = json.loads(done.stdout)
    assert {e["count"] for e in [*cli["cells"], *cli["totals"]] if e["count"]} <= numbers
    runtime.settings = runtime.settings.with_overrides(public_stats=True)
    public = app.test_client().get("/transparency?lang=en").get_data(as_text=True)
    for shown_number in re.findall(r"<td>(\d+)</td>", public):
        value = int(shown_number)
        # Rounded to base 5 for the public: within 4 of a published number (or zero).
        assert value == 0 or any(abs(value - n) <= 4 for n in numbers), value

    config = runtime.config
    province_of = {z.id: z.province for z in config.zones.values()}
    domain = {
        "zone": [*config.zones, "needs-zone"],
        "category": list(config.categories),
        "channel": ["web", "sms"],
        "priority": ["urgent", "high", "normal", "low"],
        "status": ["new", "in_review", "actioned", "referred", "closed"],
        "disposition": ["none", *config.policy.retention_days],
    }
    days = [OCTOBER + timedelta(days=i) for i in range(31)]
    truth = attack.truth_from(DEMO_30, province_of, lambda tip: tip["day"])
    verdict = attack.attack(holding, truth, domain, days, province_of, K)
    assert verdict.targets > 0 and not verdict.pinned, verdict.pinned[:5]


def test_what_the_30_tips_publish_is_reported(app, runtime, world) -> None:  # type: ignore[no-untyped-def]
    """Safety costs cells: at 30 tips in a month, most of the detail is withheld — but the
    month's total is still published."""
    _insert(runtime)
    api, headers = _api(app, world)
    data = api.get(
        "/api/v1/stats?by=category&period=month&from=2026-10-01&to=2026-10-31", headers=headers
    ).get_json()
    grand = [t for t in data["totals"] if t["category"] == "*"]
    assert grand and grand[0]["count"] == 30
