"""Find promised work that is not in Redis and put it there.

Intake commits a tip and its outbox entry before it touches Redis; if Redis was down,
or the job was lost with a killed worker, the entry stays and this picks it up. An entry
whose job is queued, scheduled or running is left alone; a second delivery would be
harmless anyway (every outbox job is idempotent), so a fresh entry whose first enqueue is
still in flight may be enqueued twice without harm.
"""

from __future__ import annotations

import logging

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from sqlalchemy import select, update

from tipline.db import transaction
from tipline.models import OutboxEntry
from tipline.outbox import ROUTE_TIP, Work
from tipline.runtime import Runtime
from workers.queues import enqueue_work, intake_queue, sms_queue, work_job_id

log = logging.getLogger("tipline.sweeper")

BATCH = 500
# Past this many sweeps an entry is reported instead of retried again: something is
# wrong with that tip (or the code), and a person must look.
MAX_ATTEMPTS = 20
_ALIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def sweep(runtime: Runtime) -> int:
    queues = {ROUTE_TIP: intake_queue(runtime)}
    # A job whose worker was killed stays "started" until cleaned; clean now so it is
    # retried or failed rather than waiting for the worker's maintenance interval.
    for queue in (queues[ROUTE_TIP], sms_queue(runtime)):
        queue.started_job_registry.cleanup()
    with transaction(runtime.sessions) as session:
        pending = session.execute(
            select(OutboxEntry.id, OutboxEntry.job, OutboxEntry.tip_id, OutboxEntry.attempts)
            .order_by(OutboxEntry.id)
            .limit(BATCH)
        ).all()
    enqueued = 0
    for outbox_id, job, tip_id, attempts in pending:
        work = Work(job, outbox_id, tip_id)
        queue = queues.get(job) or sms_queue(runtime)
        try:
            job_id = work_job_id(runtime, work)
            status = _job_status(runtime, job_id)
            if status in _ALIVE:
                continue
            if attempts >= MAX_ATTEMPTS:
                log.error(
                    "%s for tip %s could not be done after %d attempts (outbox %d); needs a person",
                    job,
                    "-" if tip_id is None else tip_id,
                    attempts,
                    outbox_id,
                )
                continue
            if status == JobStatus.FAILED:
                # A failed job keeps its id in the failed registry; requeue it from there.
                queue.failed_job_registry.requeue(job_id)
            else:
                enqueue_work(runtime, work)
        except Exception:  # one bad entry must not stop the sweep of the others
            log.exception("sweeper could not enqueue outbox %d (%s)", outbox_id, job)
            continue
        with transaction(runtime.sessions) as session:
            session.execute(
                update(OutboxEntry)
                .where(OutboxEntry.id == outbox_id)
                .values(attempts=OutboxEntry.attempts + 1)
            )
        enqueued += 1
    if enqueued:
        log.info("sweeper enqueued %d pending job(s)", enqueued)
    return enqueued


def _job_status(runtime: Runtime, job_id: str) -> JobStatus | None:
    try:
        job = Job.fetch(job_id, connection=runtime.redis, serializer=JSONSerializer)
    except NoSuchJobError:
        return None
    return job.get_status(refresh=False)
