"""Find promised work that is not in Redis and put it there.

Intake commits a tip and its outbox entry before it touches Redis; if Redis was down,
or the job was lost with a killed worker, the entry stays and this picks it up. An entry
whose job is queued, scheduled or running is left alone; a second delivery would be
harmless anyway (every outbox job is idempotent), so a fresh entry whose first enqueue is
still in flight may be enqueued twice without harm.
"""

from __future__ import annotations

import logging
import os
import socket
import time

from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from rq.utils import as_text, parse_composite_key
from sqlalchemy import select, update

from tipline.db import transaction
from tipline.models import OutboxEntry
from tipline.outbox import Work
from tipline.runtime import Runtime
from workers.queues import (
    enqueue_work,
    intake_queue,
    maintenance_queue,
    sms_queue,
    work_job_id,
    work_queue,
)

log = logging.getLogger("tipline.sweeper")

BATCH = 500
MAX_BATCHES = 40  # 20,000 rows a sweep at most; the next sweep goes on
# Past this many sweeps an entry is reported instead of retried again: something is
# wrong with that tip (or the code), and a person must look.
MAX_ATTEMPTS = 20
OVERDUE_SECONDS = 5
_ALIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def sweep(runtime: Runtime) -> int:
    # A job whose worker was killed stays "started" until cleaned; clean now so it is
    # retried or failed rather than waiting for the worker's maintenance interval.
    for queue in (intake_queue(runtime), sms_queue(runtime), maintenance_queue(runtime)):
        _expire_abandoned(queue)
        queue.started_job_registry.cleanup()
    enqueued = 0
    after = 0
    # Every live row, a batch at a time: rows that wait (scheduled retries) or gave up
    # must never keep newer rows from being swept.
    for _ in range(MAX_BATCHES):
        with transaction(runtime.sessions) as session:
            pending = session.execute(
                select(OutboxEntry.id, OutboxEntry.job, OutboxEntry.tip_id)
                .where(
                    OutboxEntry.id > after,
                    OutboxEntry.attempts < MAX_ATTEMPTS,
                    OutboxEntry.claimed.is_(False),
                )
                .order_by(OutboxEntry.id)
                .limit(BATCH)
            ).all()
        for outbox_id, job, tip_id in pending:
            if _sweep_one(runtime, work_queue(runtime, job), Work(job, outbox_id, tip_id)):
                enqueued += 1
        if len(pending) < BATCH:
            break
        after = pending[-1][0]
    if enqueued:
        log.info("sweeper enqueued %d pending job(s)", enqueued)
    _report_stuck(runtime)
    return enqueued


def _expire_abandoned(queue: Queue) -> int:
    """Let RQ's cleanup take now the jobs whose worker died on this host.

    RQ notices a job lost with its worker only when the job's heartbeat runs out (90 s
    and more); until then the job looks "started" and the sweeper leaves it alone. A
    worker on this host whose process is gone is certainly not running it: its entries
    are expired so that the cleanup below fails them (or retries them) now. Workers on
    other hosts, or a PID in use again, are left to RQ's own expiry.
    """
    registry = queue.started_job_registry
    connection = queue.connection
    here = socket.gethostname()
    expired = 0
    for entry in connection.zrange(registry.key, 0, -1):
        job_id, _execution = parse_composite_key(as_text(entry))
        try:
            job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        except NoSuchJobError:
            continue
        if not job.worker_name:
            continue
        hostname, pid = connection.hmget(
            Worker.redis_worker_namespace_prefix + job.worker_name, "hostname", "pid"
        )
        if hostname is None or pid is None or as_text(hostname) != here:
            continue
        if not _process_exists(int(pid)):
            connection.zadd(registry.key, {entry: 0}, xx=True)
            expired += 1
    if expired:
        log.warning("%d job(s) of dead workers on this host will be retried", expired)
    return expired


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge
    return True


def _sweep_one(runtime: Runtime, queue: Queue, work: Work) -> bool:
    try:
        job_id = work_job_id(runtime, work)
        status = _job_status(runtime, job_id)
        if status in _ALIVE and _where_it_says(queue, job_id, status):
            return False
        if status in (JobStatus.QUEUED, JobStatus.SCHEDULED):
            # Says it waits, but is in no queue: taken by a worker that died before
            # starting it (RQ's own cleanup waits a minute and more), lost with its
            # schedule, or overdue because no scheduler runs. Put it back in its queue.
            queue.connection.lrem(queue.intermediate_queue_key, 0, job_id)
            queue.scheduled_job_registry.remove(job_id)
            queue.enqueue_job(
                Job.fetch(job_id, connection=queue.connection, serializer=JSONSerializer)
            )
        elif status == JobStatus.FAILED:
            # A failed job keeps its id in the failed registry; requeue it from there.
            queue.failed_job_registry.requeue(job_id)
        else:
            enqueue_work(runtime, work)
    except Exception:  # one bad entry must not stop the sweep of the others
        log.exception("sweeper could not enqueue outbox %d (%s)", work.outbox_id, work.job)
        return False
    with transaction(runtime.sessions) as session:
        session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id == work.outbox_id)
            .values(attempts=OutboxEntry.attempts + 1)
        )
    return True


def _report_stuck(runtime: Runtime) -> None:
    """One line per sweep for the work nobody will retry: it needs a person."""
    with transaction(runtime.sessions) as session:
        stuck = session.execute(
            select(OutboxEntry.id, OutboxEntry.job, OutboxEntry.tip_id)
            .where((OutboxEntry.attempts >= MAX_ATTEMPTS) | OutboxEntry.claimed.is_(True))
            .order_by(OutboxEntry.id)
            .limit(20)
        ).all()
    if stuck:
        log.error(
            "outbox work needs a person (gave up after %d attempts, or interrupted while "
            "texting a tipster): %s",
            MAX_ATTEMPTS,
            "; ".join(
                f"{job} for tip {'-' if tip_id is None else tip_id} (outbox {outbox_id})"
                for outbox_id, job, tip_id in stuck
            ),
        )


def _where_it_says(queue: Queue, job_id: str, status: JobStatus) -> bool:
    """Whether a queued or scheduled job really is in its queue or schedule (a job that
    says it runs is left to RQ's heartbeat and _expire_abandoned)."""
    if status == JobStatus.QUEUED:
        return queue.connection.lpos(queue.key, job_id) is not None
    if status == JobStatus.SCHEDULED:
        # Due more than OVERDUE_SECONDS ago and still waiting: the worker whose scheduler
        # held the queue's lock died (the lock outlives it by a minute and more).
        due = queue.connection.zscore(queue.scheduled_job_registry.key, job_id)
        return due is not None and due > time.time() - OVERDUE_SECONDS
    return True


def _job_status(runtime: Runtime, job_id: str) -> JobStatus | None:
    try:
        job = Job.fetch(job_id, connection=runtime.redis, serializer=JSONSerializer)
    except NoSuchJobError:
        return None
    return job.get_status(refresh=False)
