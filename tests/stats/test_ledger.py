"""The release ledger: a release and the answer that needed it commit together, so a
failure half way publishes nothing; the scheduler makes the months that have ended;
rounding, when on, is honoured by the audit and by the adversary."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from tests.conftest import settings_env
from tests.stats.support import add_tips
from tests.stats.test_disclosure import _attack, _insert, _reset, collect, tip_strategy
from tests.support.api import bearer
from tests.test_cli import tipline
from tipline.db import transaction
from tipline.models import StatsRelease, StatsReleaseTable, StatsRollup, Tip
from tipline.stats import rollup
from tipline.stats.scheduling import release_ended_months
from workers.jobs import release_statistics

pytestmark = pytest.mark.embedded

MAY = datetime(2026, 5, 10, 15, tzinfo=UTC)


def _count(runtime, model) -> int:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_failure_half_way_through_a_release_publishes_nothing(app, runtime, world) -> None:  # type: ignore[no-untyped-def]
    add_tips(runtime, [{"zone": "on-north", "category": "drugs", "received_at": MAY}] * 12)
    postgres = runtime.engine.dialect.name == "postgresql"
    with transaction(runtime.sessions) as session:
        # The disk fills up after the release's third table is written.
        if postgres:
            session.execute(
                text(
                    "CREATE FUNCTION full_disk() RETURNS trigger AS $$ BEGIN "
                    "IF (SELECT count(*) FROM stats_release_tables) >= 3 THEN "
                    "RAISE EXCEPTION 'could not extend file' USING ERRCODE = '53100'; "
                    "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            session.execute(
                text(
                    "CREATE TRIGGER full_disk BEFORE INSERT ON stats_release_tables "
                    "FOR EACH ROW EXECUTE FUNCTION full_disk()"
                )
            )
        else:
            session.execute(
                text(
                    "CREATE TRIGGER full_disk BEFORE INSERT ON stats_release_tables "
                    "WHEN (SELECT count(*) FROM stats_release_tables) >= 3 "
                    "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
                )
            )
    try:
        api = app.test_client()
        headers = bearer(api, world["chief"])
        query = "/api/v1/stats?by=zone&period=month&from=2026-05-01&to=2026-05-31"
        if postgres:
            failed = api.get(query, headers=headers)
            assert failed.status_code == 503, failed.get_data(as_text=True)
            assert failed.get_json()["error"]["code"] == "unavailable"
            assert b"on-north" not in failed.data
        else:
            # SQLite's trigger can only raise a constraint error, which the test client
            # hands back as the exception itself: the answer never left.
            with pytest.raises(IntegrityError):
                api.get(query, headers=headers)
        assert _count(runtime, StatsRelease) == 0 and _count(runtime, StatsReleaseTable) == 0
    finally:
        with transaction(runtime.sessions) as session:
            session.execute(
                text("DROP TRIGGER full_disk" + (" ON stats_release_tables" if postgres else ""))
            )
            if postgres:
                session.execute(text("DROP FUNCTION full_disk()"))
    # With the disk back, the same request makes the release and answers.
    answer = api.get(query, headers=headers)
    assert answer.status_code == 200 and _count(runtime, StatsRelease) == 1


def test_no_release_is_made_from_a_rollup_that_has_drifted_below_zero(
    app, runtime, world, settings
) -> None:  # type: ignore[no-untyped-def]
    add_tips(runtime, [{"zone": "on-north", "category": "drugs", "received_at": MAY}] * 12)
    with transaction(runtime.sessions) as session:
        # A change made behind the rollup's back (a hand edit), then a tracked one: the
        # tracked change takes the tip out of a key the rollup never counted it in.
        tip = session.scalars(select(Tip).limit(1)).one()
        session.execute(update(Tip).where(Tip.id == tip.id).values(priority="high"))
        with rollup.tracking(session, [tip.id]):
            session.execute(update(Tip).where(Tip.id == tip.id).values(priority="urgent"))
    with runtime.sessions() as session:
        assert min(session.scalars(select(StatsRollup.tips))) == -1  # kept, not dropped
    env = settings_env(settings)
    refused = tipline(env, "stats", "release", "--months", "12")
    assert refused.returncode == 1, refused.stdout
    assert "tipline stats repair" in refused.stderr and "Traceback" not in refused.stderr
    api = app.test_client()
    answer = api.get(
        "/api/v1/stats?by=zone&period=month&from=2026-05-01&to=2026-05-31",
        headers=bearer(api, world["chief"]),
    )
    assert answer.status_code == 503 and "tipline stats repair" in answer.get_data(as_text=True)
    with runtime.sessions() as session:  # the empty months before it were released
        assert date(2026, 5, 1) not in session.scalars(select(StatsRelease.month)).all()
    # Repaired, the month is released from the right counts.
    assert tipline(env, "stats", "repair").returncode == 0
    released = tipline(env, "stats", "release", "--months", "12")
    assert released.returncode == 0 and "2026-05" in released.stdout, released.stderr
    with runtime.sessions() as session:
        zone = session.scalars(
            select(StatsReleaseTable.cells)
            .join(StatsRelease)
            .where(StatsRelease.month == date(2026, 5, 1), StatsReleaseTable.grouping == "zone")
        ).one()
    assert json.loads(zone)[0][1:3] == ["on-north", 12]


def test_the_scheduler_releases_the_months_that_have_ended_once(runtime) -> None:  # type: ignore[no-untyped-def]
    add_tips(runtime, [{"zone": "on-north", "category": "drugs", "received_at": MAY}] * 12)
    # An hour after the month ends: May is released (and April, before it); June is not.
    tz = ZoneInfo(runtime.settings.timezone)
    june_first = datetime.combine(date(2026, 6, 1), time(), tz).astimezone(UTC)
    assert release_ended_months(runtime, june_first + timedelta(minutes=30), 2) == [
        date(2026, 3, 1),
        date(2026, 4, 1),
    ]
    made = release_ended_months(runtime, june_first + timedelta(hours=2), 2)
    assert made == [date(2026, 5, 1)]
    assert release_ended_months(runtime, june_first + timedelta(hours=3), 2) == []
    # The cron job does the same for the months up to now, each once.
    assert release_statistics() >= 1
    again = release_statistics()
    assert again == 0


@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.integers(min_value=8, max_value=35).flatmap(
        lambda n: st.lists(tip_strategy(), min_size=n, max_size=n)
    )
)
def test_rounding_is_to_base_5_and_the_audit_allows_for_it(app, runtime, world, tips) -> None:  # type: ignore[no-untyped-def]
    runtime.settings = runtime.settings.with_overrides(stats_rounding=True)
    _reset(runtime)
    _insert(runtime, tips)
    holding = collect(app, world)
    published = [n.count for n in holding.numbers if n.count is not None]
    assert all(count % 5 == 0 for count in published)
    assert all(n.rounded for n in holding.numbers)
    verdict = _attack(runtime, holding, tips)
    assert not verdict.pinned, verdict.pinned[:5]
