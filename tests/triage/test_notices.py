"""Content-free notices by email (a real SMTP server), and SLA escalation."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.support.api import bearer, routed_tip
from tipline.db import transaction
from tipline.models import AuditEntry, OutboxEntry, Tip
from tipline.models.base import utcnow
from tipline.outbox import NOTIFY_STAFF, Work
from workers import jobs
from workers.queues import maintenance_queue, work_job_id

pytestmark = pytest.mark.embedded

DESCRIPTION = "NOTICECANARY: the blue van at 12 Elm Street every Friday night."


def _body(message) -> str:  # type: ignore[no-untyped-def]
    return message.get_payload(decode=True).decode()


def test_a_routed_tip_is_announced_to_its_unit_without_content(
    app, client, drain, runtime, world, mailbox
) -> None:  # type: ignore[no-untyped-def]
    runtime.settings = runtime.settings.with_overrides(smtp_url=mailbox.url)
    reference = routed_tip(client, drain, category="drugs", description=DESCRIPTION)
    members = {a.email for a in world.values() if "on-north-general" in a.units}
    assert {m["To"] for m in mailbox.messages} == members  # one message each
    for message in mailbox.messages:
        assert message["Subject"] == "New normal-priority tip in North District — General / Drugs"
        text = message.as_string() + _body(message)
        assert "NOTICECANARY" not in text and "Elm" not in text and reference not in text
        assert runtime.settings.public_url + "/staff/" in _body(message)


def test_a_mail_server_down_never_keeps_a_tip_from_its_queue(
    client, drain, runtime, caplog
) -> None:  # type: ignore[no-untyped-def]
    runtime.settings = runtime.settings.with_overrides(smtp_url="smtp://127.0.0.1:9")
    reference = routed_tip(client, drain)
    with runtime.sessions() as session:
        assert session.scalars(select(Tip.status).where(Tip.reference == reference)).one() == "new"
    assert any("mail server error" in r.getMessage() for r in caplog.records)


def test_a_notice_the_mail_server_refused_is_sent_once_it_is_back(
    client, drain, runtime, world, mailbox
) -> None:  # type: ignore[no-untyped-def]
    runtime.settings = runtime.settings.with_overrides(smtp_url="smtp://127.0.0.1:9")
    reference = routed_tip(client, drain, category="drugs")
    with runtime.sessions() as session:
        tip_id = session.scalars(select(Tip.id).where(Tip.reference == reference)).one()
        promised = session.scalars(
            select(OutboxEntry.id).where(OutboxEntry.job == NOTIFY_STAFF)
        ).all()
    assert len(promised) == 1  # the promise outlives the failed send
    queue = maintenance_queue(runtime)
    job_id = work_job_id(runtime, Work(NOTIFY_STAFF, promised[0], tip_id))
    assert job_id in queue.scheduled_job_registry.get_job_ids()  # RQ will try again

    # Time passes: the retry is due, and the mail server is back.
    runtime.settings = runtime.settings.with_overrides(smtp_url=mailbox.url)
    runtime.redis.zadd(queue.scheduled_job_registry.key, {job_id: time.time() - 60})
    assert jobs.sweep_outbox() == 1
    drain()
    members = sorted(a.email for a in world.values() if "on-north-general" in a.units)
    assert sorted(m["To"] for m in mailbox.messages) == members  # once each
    with runtime.sessions() as session:
        assert session.scalars(select(OutboxEntry.id)).all() == []
    assert jobs.sweep_outbox() == 0
    drain()
    assert len(mailbox.messages) == len(members)


def test_without_smtp_the_notice_is_logged_without_addresses(
    client, drain, runtime, world, caplog
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level("INFO", logger="tipline.notify")
    routed_tip(client, drain)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "tipline.notify")
    assert "no SMTP configured" in logged
    assert not any(a.email in logged for a in world.values())


def _age(runtime, reference: str, hours: float) -> None:  # type: ignore[no-untyped-def]
    with transaction(runtime.sessions) as session:
        session.execute(
            update(Tip)
            .where(Tip.reference == reference)
            .values(received_at=utcnow() - timedelta(hours=hours))
        )


def test_tips_past_their_deadline_are_escalated_once_to_supervisors(
    app, client, drain, runtime, world, mailbox
) -> None:  # type: ignore[no-untyped-def]
    late = routed_tip(client, drain, category="drugs")  # normal priority: 24 h
    taken = routed_tip(client, drain, category="drugs")
    fresh = routed_tip(client, drain, category="drugs")
    runtime.settings = runtime.settings.with_overrides(smtp_url=mailbox.url)
    api = app.test_client()
    north = bearer(api, world["north"])
    assert api.post(f"/api/v1/tips/{taken}/claim", headers=north).status_code == 200
    for reference in (late, taken):
        _age(runtime, reference, 25)
    _age(runtime, fresh, 23)

    assert jobs.escalate_overdue() == 1
    assert jobs.escalate_overdue() == 0  # marked: never twice
    drain()
    breached = api.get("/api/v1/queue?breached=true", headers=north).get_json()["items"]
    assert [item["reference"] for item in breached] == [late]
    supervisors = {a.email for a in world.values() if a.units and a.email.startswith("chief")}
    assert {m["To"] for m in mailbox.messages} == supervisors
    assert (
        "Overdue for triage: 1 normal-priority in North District — General"
        in mailbox.messages[0]["Subject"]
    )
    assert late not in mailbox.messages[0].as_string()
    with runtime.sessions() as session:
        audited = session.scalars(
            select(AuditEntry.subject).where(AuditEntry.action == "tip.sla_breach")
        ).all()
    assert audited == [late]


def test_urgent_tips_have_the_shortest_deadline(client, drain, runtime) -> None:  # type: ignore[no-untyped-def]
    urgent = routed_tip(
        client,
        drain,
        category="weapons",
        description="They have a gun tonight, going to the school.",
    )
    with runtime.sessions() as session:
        assert (
            session.scalars(select(Tip.priority).where(Tip.reference == urgent)).one() == "urgent"
        )
    _age(runtime, urgent, 1.5)
    assert jobs.escalate_overdue() == 1
