"""The attack on everything published at once.

Random populations of tips (hypothesis) across two months, a month boundary inside a
week; then every output a supervisor can obtain — every grouping the API allows, by
month, by week and by day, over every window of whole months and weeks and a spread of
windows of days — goes into one holding, and one adversary (tests/stats/attack.py,
written apart from the code) solves for every withheld count. No withheld count of 1 to
k−2 may have a greatest value below k−1. The same adversary, fed what per-table
suppression (the way statistics were published before) gives for one population, pins
counts down: it can tell a broken release from a sound one.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.stats import attack
from tests.stats.support import add_tips
from tests.support import scale
from tests.support.api import bearer
from tipline.db import transaction
from tipline.models import StatsRelease, StatsReleaseTable, StatsRollup, Tip, TipUnit
from tipline.stats.catalogue import groupings

pytestmark = pytest.mark.embedded

K = 5
TZ = ZoneInfo("America/Toronto")
APRIL, MAY = date(2026, 4, 1), date(2026, 5, 1)
# Days around the end of April: the week of Monday 27 April ends on Sunday 3 May.
DAYS = [date(2026, 4, 20) + timedelta(days=i) for i in range(0, 25, 2)]
ZONES = ("on-north", "on-central", "qc-laval", None)
CATEGORIES = ("drugs", "weapons", "fraud-scams", "organized-crime")


def tip_strategy():  # type: ignore[no-untyped-def]
    closed = st.sampled_from(["arrest", "unfounded"])
    return st.builds(
        lambda zone, category, channel, priority, state, disposition, day: {
            "zone": zone,
            "category": category,
            "channel": channel,
            "priority": priority,
            "status": state,
            "disposition": disposition if state == "closed" else None,
            "day": day,
        },
        st.sampled_from(ZONES),
        st.sampled_from(CATEGORIES),
        st.sampled_from(["web", "sms"]),
        st.sampled_from(["normal", "high"]),
        st.sampled_from(["new", "in_review", "closed"]),
        closed,
        st.sampled_from(DAYS),
    )


def _insert(runtime, tips: list[dict]) -> None:  # type: ignore[no-untyped-def]
    rows = []
    for tip in tips:
        received = datetime.combine(tip["day"], time(12), TZ).astimezone(UTC)
        row = {k: v for k, v in tip.items() if k != "day"}
        row["received_at"] = received
        if row["status"] != "new":  # as the workflow does: left "new" means triaged
            row["triaged_at"] = received + timedelta(hours=2)
        if row["status"] == "closed":
            row["closed_at"] = received + timedelta(hours=5)
        rows.append(row)
    add_tips(runtime, rows)


_signed_in: dict[int, tuple[object, dict[str, str]]] = {}


def collect(app, world) -> attack.Holding:  # type: ignore[no-untyped-def]
    """Every answer the API gives about April and May 2026."""
    if id(app) not in _signed_in:  # once per test: hypothesis runs every example on one app
        client = app.test_client()
        _signed_in.clear()
        _signed_in[id(app)] = (client, bearer(client, world["chief"]))
    api, headers = _signed_in[id(app)]
    holding = attack.Holding()

    def ask(by: str, period: str, start: date, end: date) -> None:
        response = api.get(
            f"/api/v1/stats?by={by}&period={period}&from={start}&to={end}", headers=headers
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        holding.add_answer(response.get_json())

    month_windows = [
        (APRIL, date(2026, 4, 30)),
        (MAY, date(2026, 5, 31)),
        (APRIL, date(2026, 5, 31)),
    ]
    mondays = [date(2026, 4, 13) + timedelta(weeks=i) for i in range(5)]
    week_windows = [
        (a, b + timedelta(days=6)) for a, b in itertools.combinations_with_replacement(mondays, 2)
    ]
    day_windows = [(APRIL, date(2026, 5, 31))]
    day_windows += [(d, d + timedelta(days=n)) for d in DAYS[::3] for n in (0, 1, 6, 13)]
    for period, windows in (("month", month_windows), ("week", week_windows), ("day", day_windows)):
        for keys in groupings(period):
            for with_period in (False, True):
                by = ",".join([*keys, "period"] if with_period else keys) or "period"
                if not keys and not with_period:
                    continue  # "by" needs a key: the totals come with every answer
                for start, end in windows:
                    ask(by, period, start, end)
    return holding


def _reset(runtime) -> None:  # type: ignore[no-untyped-def]
    with transaction(runtime.sessions) as session:
        for model in (StatsReleaseTable, StatsRelease, StatsRollup, TipUnit, Tip):
            session.execute(model.__table__.delete())


def _attack(
    runtime, holding: attack.Holding, tips: list[dict], days: list[date] | None = None
) -> attack.Verdict:  # type: ignore[no-untyped-def]
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
    days = days or [APRIL + timedelta(days=i) for i in range(61)]
    truth = attack.truth_from(tips, province_of, lambda tip: tip["day"])
    return attack.attack(holding, truth, domain, days, province_of, K)


@settings(
    max_examples=30 if scale.LONG else 6,
    deadline=None,
    derandomize=not scale.LONG,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.integers(min_value=3, max_value=45).flatmap(
        lambda n: st.lists(tip_strategy(), min_size=n, max_size=n)
    )
)
def test_no_withheld_count_can_be_pinned_by_everything_published(app, runtime, world, tips) -> None:  # type: ignore[no-untyped-def]
    _reset(runtime)
    _insert(runtime, tips)
    verdict = _attack(runtime, collect(app, world), tips)
    assert not verdict.pinned, verdict.pinned[:5]


def test_the_adversary_pins_counts_that_per_table_suppression_leaves(runtime) -> None:  # type: ignore[no-untyped-def]
    """The deliberate break: each table suppressed on its own, as before this release
    ledger existed, for the demo's 30 tips (tests/stats/test_regression.py)."""
    from tests.stats.test_regression import DEMO_30, per_table

    holding = attack.Holding()
    for answer in per_table(runtime.config, DEMO_30, K):
        holding.add_answer(answer)
    october = [date(2026, 10, 1) + timedelta(days=i) for i in range(31)]
    verdict = _attack(runtime, holding, DEMO_30, october)
    assert verdict.pinned, "per-table suppression should be attackable"
    pinned = {n.keys for n, _, _ in verdict.pinned}
    assert (("category", "organized-crime"),) in pinned or any(
        ("category", "organized-crime") in keys for keys in pinned
    )
