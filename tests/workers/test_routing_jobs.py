from __future__ import annotations

import threading

import pytest
import redis
from sqlalchemy import select

from tests.support.forms import reference_from, submit_tip
from tipline.db import transaction
from tipline.models import OutboxEntry, Tip
from tipline.triage.placement import place_tip
from workers.jobs import route_tip
from workers.queues import enqueue_route_tip, intake_queue
from workers.sweeper import sweep

pytestmark = pytest.mark.embedded


def _tip(runtime, reference):  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        return session.scalars(select(Tip).where(Tip.reference == reference)).one()


def test_intake_enqueues_route_tip_by_id_only_and_worker_routes_it(client, runtime, drain) -> None:  # type: ignore[no-untyped-def]
    reference = reference_from(
        submit_tip(client, description="The canary-args text must not be in Redis.").get_data(
            as_text=True
        )
    )
    tip = _tip(runtime, reference)
    jobs = intake_queue(runtime).get_jobs()
    assert [job.args for job in jobs] == [[tip.id]]
    assert jobs[0].description == "route_tip"
    drain()
    routed = _tip(runtime, reference)
    assert routed.status == "new" and routed.routed_at is not None
    with runtime.sessions() as session:
        # The kept promise is forgotten, and the job leaves nothing behind in Redis.
        assert session.scalars(select(OutboxEntry).where(OutboxEntry.tip_id == tip.id)).all() == []
    assert not runtime.redis.exists(f"rq:job:{jobs[0].id}")


def test_double_delivery_routes_once(client, runtime, caplog) -> None:  # type: ignore[no-untyped-def]
    reference = reference_from(submit_tip(client).get_data(as_text=True))
    tip_id = _tip(runtime, reference).id
    caplog.set_level("DEBUG", logger="tipline.jobs")
    assert route_tip(tip_id) is True
    assert route_tip(tip_id) is False
    notices = [r for r in caplog.records if r.name == "tipline.jobs" and "new " in r.getMessage()]
    assert len(notices) == 1


def test_concurrent_deliveries_place_a_tip_exactly_once(client, runtime) -> None:  # type: ignore[no-untyped-def]
    reference = reference_from(submit_tip(client).get_data(as_text=True))
    tip_id = _tip(runtime, reference).id
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def deliver() -> None:
        barrier.wait()
        with transaction(runtime.sessions) as session:
            placement = place_tip(session, tip_id, 60)
        results.append(bool(placement and placement.placed))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]


def test_the_same_job_enqueued_twice_by_rq_routes_once(client, runtime, drain, caplog) -> None:  # type: ignore[no-untyped-def]
    reference = reference_from(submit_tip(client).get_data(as_text=True))
    tip_id = _tip(runtime, reference).id
    enqueue_route_tip(runtime, tip_id)  # at-least-once: a second delivery of the same job
    caplog.set_level("DEBUG", logger="tipline.jobs")
    drain()
    notices = [r for r in caplog.records if r.name == "tipline.jobs" and "new " in r.getMessage()]
    assert len(notices) == 1
    assert _tip(runtime, reference).status == "new"


def _redis_down(runtime):  # type: ignore[no-untyped-def]
    """Point the web runtime at a Redis nobody listens on (port 1)."""
    runtime.__dict__["redis"] = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=1, socket_timeout=1
    )


def test_redis_down_tip_is_accepted_and_the_sweeper_routes_it_later(
    client, runtime, drain, caplog
) -> None:  # type: ignore[no-untyped-def]
    real_redis = runtime.redis
    _redis_down(runtime)
    caplog.set_level("WARNING")
    response = submit_tip(client, description="Redis is down but this tip must survive.")
    assert response.status_code == 200
    reference = reference_from(response.get_data(as_text=True))
    assert any("deferred to the sweeper" in r.getMessage() for r in caplog.records)
    assert _tip(runtime, reference).status == "received"
    runtime.__dict__["redis"] = real_redis
    assert intake_queue(runtime).count == 0
    assert sweep(runtime) == 1
    assert sweep(runtime) == 0  # already queued: not enqueued twice
    drain()
    assert _tip(runtime, reference).status == "new"
    assert sweep(runtime) == 0  # kept promises are deleted, never swept again


def test_sweeper_requeues_a_failed_job(client, runtime, drain, settings) -> None:  # type: ignore[no-untyped-def]
    from tipline.runtime import Runtime
    from workers.runtime import set_runtime

    reference = reference_from(submit_tip(client).get_data(as_text=True))
    queue = intake_queue(runtime)
    job = queue.get_jobs()[0]
    job.retries_left = 0  # fail at once instead of scheduling a retry
    job.save()
    # The job really fails: its worker cannot reach the database.
    broken = Runtime(
        settings.with_overrides(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    )
    broken.__dict__["redis"] = runtime.redis
    set_runtime(broken)
    try:
        drain()
    finally:
        set_runtime(runtime)
    assert queue.failed_job_registry.count == 1
    assert _tip(runtime, reference).status == "received"
    assert sweep(runtime) == 1
    assert queue.failed_job_registry.count == 0
    drain()
    assert _tip(runtime, reference).status == "new"


def test_sweeper_gives_up_loudly_after_too_many_attempts(client, runtime, caplog) -> None:  # type: ignore[no-untyped-def]
    from workers.sweeper import MAX_ATTEMPTS

    reference = reference_from(submit_tip(client).get_data(as_text=True))
    intake_queue(runtime).empty()
    with transaction(runtime.sessions) as session:
        session.execute(OutboxEntry.__table__.update().values(attempts=MAX_ATTEMPTS))
    caplog.set_level("ERROR", logger="tipline.sweeper")
    assert sweep(runtime) == 0
    tip_id = _tip(runtime, reference).id
    assert any(f"route_tip for tip {tip_id} (outbox" in r.getMessage() for r in caplog.records)
