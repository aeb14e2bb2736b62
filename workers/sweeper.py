"""Find promised work that is not in Redis and put it there.

Intake commits a tip and its outbox entry before it touches Redis; if Redis was down,
or the job was lost with a killed worker, the entry stays pending and this picks it up.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from sqlalchemy import select, update

from tipline.db import transaction
from tipline.models import OutboxEntry
from tipline.models.base import utcnow
from tipline.runtime import Runtime
from workers.queues import enqueue_route_tip, intake_queue, route_job_id

log = logging.getLogger("tipline.sweeper")

GRACE = timedelta(seconds=30)  # leave fresh entries to intake's own enqueue
BATCH = 500
_ALIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def sweep(runtime: Runtime, grace: timedelta = GRACE) -> int:
    queue = intake_queue(runtime)
    # A job whose worker was killed stays "started" until cleaned; clean now so it is
    # retried or failed rather than waiting for the worker's maintenance interval.
    queue.started_job_registry.cleanup()
    cutoff = utcnow() - grace
    with transaction(runtime.sessions) as session:
        pending = session.execute(
            select(OutboxEntry.id, OutboxEntry.tip_id)
            .where(OutboxEntry.done_at.is_(None), OutboxEntry.created_at <= cutoff)
            .order_by(OutboxEntry.id)
            .limit(BATCH)
        ).all()
    enqueued = 0
    for outbox_id, tip_id in pending:
        status = _job_status(runtime, tip_id)
        if status in _ALIVE:
            continue
        if status == JobStatus.FAILED:
            # A failed job keeps its id in the failed registry; requeue it from there.
            queue.failed_job_registry.requeue(route_job_id(runtime, tip_id))
        else:
            enqueue_route_tip(runtime, tip_id)
        with transaction(runtime.sessions) as session:
            session.execute(
                update(OutboxEntry)
                .where(OutboxEntry.id == outbox_id)
                .values(enqueued_at=utcnow(), attempts=OutboxEntry.attempts + 1)
            )
        enqueued += 1
    if enqueued:
        log.info("sweeper enqueued %d pending tip(s)", enqueued)
    return enqueued


def _job_status(runtime: Runtime, tip_id: int) -> JobStatus | None:
    try:
        job = Job.fetch(
            route_job_id(runtime, tip_id), connection=runtime.redis, serializer=JSONSerializer
        )
    except NoSuchJobError:
        return None
    return job.get_status(refresh=False)
