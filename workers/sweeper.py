"""Find promised work that is not in Redis and put it there.

Intake commits a tip and its outbox entry before it touches Redis; if Redis was down,
or the job was lost with a killed worker, the entry stays and this picks it up. An entry
whose job is queued or running is left alone; a second delivery would be harmless anyway
(route_tip is idempotent), so a fresh entry whose first enqueue is still in flight may be
enqueued twice without harm.
"""

from __future__ import annotations

import logging

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from sqlalchemy import select, update

from tipline.db import transaction
from tipline.models import OutboxEntry
from tipline.runtime import Runtime
from workers.queues import enqueue_route_tip, intake_queue, route_job_id

log = logging.getLogger("tipline.sweeper")

BATCH = 500
# Past this many sweeps an entry is reported instead of retried again: something is
# wrong with that tip (or the code), and a person must look.
MAX_ATTEMPTS = 20
_ALIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def sweep(runtime: Runtime) -> int:
    queue = intake_queue(runtime)
    # A job whose worker was killed stays "started" until cleaned; clean now so it is
    # retried or failed rather than waiting for the worker's maintenance interval.
    queue.started_job_registry.cleanup()
    with transaction(runtime.sessions) as session:
        pending = session.execute(
            select(OutboxEntry.id, OutboxEntry.tip_id, OutboxEntry.attempts)
            .where(OutboxEntry.job == "route_tip")
            .order_by(OutboxEntry.id)
            .limit(BATCH)
        ).all()
    enqueued = 0
    for outbox_id, tip_id, attempts in pending:
        try:
            status = _job_status(runtime, tip_id)
            if status in _ALIVE:
                continue
            if attempts >= MAX_ATTEMPTS:
                log.error(
                    "tip %d could not be routed after %d attempts; needs a person", tip_id, attempts
                )
                continue
            if status == JobStatus.FAILED:
                # A failed job keeps its id in the failed registry; requeue it from there.
                queue.failed_job_registry.requeue(route_job_id(runtime, tip_id))
            else:
                enqueue_route_tip(runtime, tip_id)
        except Exception:  # one bad entry must not stop the sweep of the others
            log.exception("sweeper could not enqueue tip %d", tip_id)
            continue
        with transaction(runtime.sessions) as session:
            session.execute(
                update(OutboxEntry)
                .where(OutboxEntry.id == outbox_id)
                .values(attempts=OutboxEntry.attempts + 1)
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
