"""Queue names and the one way to enqueue our jobs (JSON serializer, ids only)."""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

import redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.serializers import JSONSerializer

from tipline import outbox
from tipline.outbox import Work
from tipline.runtime import Runtime

log = logging.getLogger("tipline.queues")

# Backoff for transient failures (database restarting, lock timeouts, a killed worker,
# which RQ counts as a failure too). Short: a tip must not wait half an hour for its
# queue because of a restart; past the last retry the sweeper requeues it anyway.
ROUTE_RETRY = Retry(max=5, interval=[3, 10, 30, 60, 120])
# Twilio jobs: Twilio unreachable or busy, and (deletes) error 20009 "not final yet",
# which can last until the carrier reports delivery. Notices: the mail server down.
WORK_RETRY = {
    outbox.FETCH_MEDIA: Retry(max=5, interval=[10, 60, 300, 1800, 3600]),
    outbox.SEND_SMS: Retry(max=5, interval=[10, 60, 300, 1800, 3600]),
    outbox.PURGE_MESSAGE: Retry(max=8, interval=[10, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600]),
    outbox.NOTIFY_STAFF: Retry(max=5, interval=[10, 60, 300, 1800, 3600]),
}
# A message Twilio has just sent cannot be deleted before it is final: try a bit later.
PURGE_SENT_DELAY = timedelta(seconds=60)


def queue_names(runtime: Runtime) -> tuple[str, ...]:
    """Worker queues, in priority order: routing first, then Twilio work, then cron jobs."""
    prefix = runtime.settings.redis_prefix
    return (f"{prefix}-intake", f"{prefix}-sms", f"{prefix}-maintenance")


def _queue(runtime: Runtime, index: int) -> Queue:
    # One Queue object per runtime and name: intake enqueues on every tip and text.
    cache = runtime.__dict__.setdefault("_queues", {})
    queue = cache.get(index)
    if queue is None or queue.connection is not runtime.redis:
        name = queue_names(runtime)[index]
        queue = cache[index] = Queue(name, connection=runtime.redis, serializer=JSONSerializer)
    return queue


def intake_queue(runtime: Runtime) -> Queue:
    return _queue(runtime, 0)


def sms_queue(runtime: Runtime) -> Queue:
    return _queue(runtime, 1)


def maintenance_queue(runtime: Runtime) -> Queue:
    return Queue(queue_names(runtime)[2], connection=runtime.redis, serializer=JSONSerializer)


def work_queue(runtime: Runtime, job: str) -> Queue:
    """The queue an outbox job runs on: routing first, Twilio work next, notices last."""
    if job == outbox.ROUTE_TIP:
        return intake_queue(runtime)
    if job == outbox.NOTIFY_STAFF:
        return maintenance_queue(runtime)
    return sms_queue(runtime)


def route_job_id(runtime: Runtime, tip_id: int) -> str:
    # The deployment prefix keeps two deployments (or test runs) on one Redis apart.
    return f"{runtime.settings.redis_prefix}-route_tip-{tip_id}"


def enqueue_route_tip(runtime: Runtime, tip_id: int) -> None:
    """Raises redis errors; callers that must not fail (intake) catch them."""
    intake_queue(runtime).enqueue(
        "workers.jobs.route_tip",
        tip_id,
        job_id=route_job_id(runtime, tip_id),
        description="route_tip",
        retry=ROUTE_RETRY,
        # RQ keeps exact enqueue/start/end times in the job hash, next to the tip id:
        # drop the job as soon as it succeeds, and a failed one once the sweeper has
        # had time to requeue it (the outbox entry is the lasting record).
        result_ttl=0,
        failure_ttl=6 * 3600,
    )


def work_job_id(runtime: Runtime, work: Work) -> str:
    """The RQ job id of an outbox row: one job per row, so a second enqueue is a no-op
    while the first is alive (route_tip keeps its id by tip, see route_job_id)."""
    if work.job == outbox.ROUTE_TIP:
        if work.tip_id is None:
            raise ValueError("route_tip needs a tip id")
        return route_job_id(runtime, work.tip_id)
    return f"{runtime.settings.redis_prefix}-{work.job}-{work.outbox_id}"


def enqueue_work(runtime: Runtime, work: Work, delay: timedelta | None = None) -> None:
    """Enqueue the job of a committed outbox row, by id only. Raises redis errors; the
    row stays and the sweeper enqueues it later."""
    if work.job == outbox.ROUTE_TIP:
        enqueue_route_tip(runtime, work.tip_id)  # type: ignore[arg-type]
        return
    options = {
        "job_id": work_job_id(runtime, work),
        "description": work.job,
        "retry": WORK_RETRY[work.job],
        "result_ttl": 0,
        "failure_ttl": 6 * 3600,
    }
    queue = work_queue(runtime, work.job)
    if delay is not None:
        queue.enqueue_in(delay, f"workers.jobs.{work.job}", work.outbox_id, **options)
        return
    # unique: while this row's job exists (queued, running, or failed awaiting the
    # sweeper's requeue), enqueueing it again does nothing.
    with contextlib.suppress(DuplicateJobError):
        queue.enqueue(f"workers.jobs.{work.job}", work.outbox_id, unique=True, **options)


def enqueue_committed(
    runtime: Runtime, work: tuple[Work, ...], delay: timedelta | None = None
) -> None:
    """Enqueue outbox rows that are committed already. Never raises for Redis: the row is
    the promise, and with Redis down the sweeper enqueues it later."""
    for item in work:
        try:
            enqueue_work(runtime, item, delay)
        except redis.RedisError as exc:
            log.warning("%s deferred to the sweeper (%s)", item.job, type(exc).__name__)
