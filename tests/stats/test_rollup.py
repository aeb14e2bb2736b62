"""The statistics rollup: every change a tip goes through — web and SMS intake, the SMS
menu's rerouting, a priority raised by a later text, claim, status, closing, reopening,
referral, retention — is counted in the same transaction, so the rollup always equals
what the tips themselves say; ``tipline stats repair`` finds a drift and mends it; the
migration fills it from the tips an upgrade finds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text, update

from tests.conftest import settings_env
from tests.db.test_migrations import empty_database  # noqa: F401 - a fixture
from tests.sms.test_inbound import TOKEN, _text
from tests.stats.support import add_tips
from tests.support.api import bearer, routed_tip
from tests.test_cli import tipline
from tipline.db import transaction
from tipline.migrate import upgrade
from tipline.models import StatsRollup, Tip
from tipline.models.base import utcnow
from tipline.stats import rollup
from tipline.triage.retention import delete_expired

pytestmark = pytest.mark.embedded


def _rollup(runtime) -> dict[tuple[str, ...], int]:  # type: ignore[no-untyped-def]
    """The rollup by (zone, category, channel, priority, status, disposition)."""
    with runtime.sessions() as session:
        counted = rollup.stored(session)
        truth = rollup.repair(session, fix=False)
    assert truth.keys_wrong == 0, truth  # what the tips say, exactly
    merged: dict[tuple[str, ...], int] = {}
    for key, n in counted.items():
        merged[tuple(key[1:])] = merged.get(tuple(key[1:]), 0) + n
    return merged


def test_each_step_of_a_web_tip_is_counted_as_it_happens(
    app, client, drain, runtime, world
) -> None:  # type: ignore[no-untyped-def]
    reference = routed_tip(client, drain, category="drugs", zone="on-north")
    assert _rollup(runtime) == {("on-north", "drugs", "web", "normal", "new", ""): 1}
    api = app.test_client()
    north = bearer(api, world["north"])

    def act(headers, action: str, body=None) -> None:  # type: ignore[no-untyped-def]
        response = api.post(f"/api/v1/tips/{reference}/{action}", json=body, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)

    act(north, "claim")
    assert _rollup(runtime) == {("on-north", "drugs", "web", "normal", "in_review", ""): 1}
    act(north, "status", {"status": "closed", "disposition": "unfounded"})
    assert _rollup(runtime) == {("on-north", "drugs", "web", "normal", "closed", "unfounded"): 1}
    chief = bearer(api, world["chief"])
    act(chief, "status", {"status": "in_review"})  # reopened
    act(chief, "refer", {"unit": "qc-montreal-general"})
    assert _rollup(runtime) == {("on-north", "drugs", "web", "normal", "referred", ""): 1}
    # Closed long ago: retention deletes it, and its count goes with it.
    act(chief, "status", {"status": "closed", "disposition": "unfounded"})
    with transaction(runtime.sessions) as session:
        session.execute(
            update(Tip)
            .where(Tip.reference == reference)
            .values(closed_at=utcnow() - timedelta(days=400))
        )
    assert delete_expired(runtime, utcnow()) == 1
    assert _rollup(runtime) == {}


def test_the_sms_menu_and_a_later_urgent_text_are_counted(runtime, drain) -> None:  # type: ignore[no-untyped-def]
    from tipline.app import create_app

    runtime.settings = runtime.settings.with_overrides(twilio_auth_token=TOKEN)
    client = create_app(runtime=runtime).test_client()
    _text(client, runtime, "There is a grow-op behind the bakery")
    assert _rollup(runtime) == {}  # committed, not yet in a queue: not counted
    drain()
    # In its queue at once, as "other" on the triage desk until the menu is answered.
    assert list(_rollup(runtime)) == [("", "other", "sms", "low", "new", "")]
    drugs = next(c.sms_menu for c in runtime.config.categories.values() if c.id == "drugs")
    _text(client, runtime, str(drugs))
    _text(client, runtime, "SKIP")  # no zone: the triage desk
    drain()
    assert list(_rollup(runtime)) == [("", "drugs", "sms", "normal", "new", "")]
    _text(client, runtime, "they have a gun")  # an urgent word, later: one step up
    drain()
    assert list(_rollup(runtime)) == [("", "drugs", "sms", "high", "new", "")]


def test_repair_finds_a_drift_and_mends_it(settings, runtime) -> None:  # type: ignore[no-untyped-def]
    add_tips(runtime, [{"zone": "on-north", "category": "drugs", "received_at": utcnow()}] * 3)
    with transaction(runtime.sessions) as session:
        session.execute(update(StatsRollup).values(tips=StatsRollup.tips + 2))
    env = settings_env(settings)
    check = tipline(env, "stats", "repair", "--check")
    assert check.returncode == 1 and "1 of 1 rollup rows differ (2 tips off" in check.stdout
    mend = tipline(env, "stats", "repair")
    assert mend.returncode == 0 and "now rebuilt from the tips" in mend.stdout, mend.stderr
    again = tipline(env, "stats", "repair", "--check")
    assert again.returncode == 0 and "matches the tips: 1 rows, 3 tips" in again.stdout
    with runtime.sessions() as session:
        assert session.scalars(select(StatsRollup.tips)).all() == [3]


def test_the_migration_counts_the_tips_an_upgrade_finds(empty_database) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    upgrade(empty_database, "0006")
    with empty_database.begin() as conn:
        for i, (zone, status, disposition) in enumerate(
            [("on-north", "new", None), ("on-north", "new", None), (None, "closed", "arrest"),
             ("qc-laval", "received", None)]
        ):  # fmt: skip
            conn.execute(
                text(
                    "INSERT INTO tips (reference, channel, zone, category, priority, "
                    "urgent_words, status, disposition, received_at, public_key, key_version, "
                    "reply_waiting, sla_breached) VALUES (:ref, 'web', :zone, 'drugs', 'normal', "
                    ":f, :status, :disposition, :at, :key, 1, :f, :f)"
                ),
                {
                    "ref": f"REF{i}",
                    "zone": zone,
                    "status": status,
                    "disposition": disposition,
                    "at": utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(days=i),
                    "key": b"k" * 32,
                    "f": False,
                },
            )
    upgrade(empty_database)
    engine = create_engine(empty_database.url)
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        counted = rollup.stored(session)
        assert rollup.repair(session, fix=False).keys_wrong == 0
    engine.dispose()
    assert sorted((k[1], k[5], k[6], n) for k, n in counted.items()) == [
        ("", "closed", "arrest", 1),
        ("on-north", "new", "", 1),
        ("on-north", "new", "", 1),
    ]
