"""Queue names and the one way to enqueue our jobs (JSON serializer, ids only)."""

from __future__ import annotations

from rq import Queue, Retry
from rq.serializers import JSONSerializer

from tipline.runtime import Runtime

# Backoff for transient failures (database restarting, lock timeouts).
ROUTE_RETRY = Retry(max=5, interval=[5, 30, 120, 600, 1800])


def queue_names(runtime: Runtime) -> tuple[str, ...]:
    prefix = runtime.settings.redis_prefix
    return (f"{prefix}-intake", f"{prefix}-maintenance")


def intake_queue(runtime: Runtime) -> Queue:
    # One Queue object per runtime: intake enqueues on every tip.
    queue = runtime.__dict__.get("_intake_queue")
    if queue is None or queue.connection is not runtime.redis:
        queue = Queue(queue_names(runtime)[0], connection=runtime.redis, serializer=JSONSerializer)
        runtime.__dict__["_intake_queue"] = queue
    return queue


def maintenance_queue(runtime: Runtime) -> Queue:
    return Queue(queue_names(runtime)[1], connection=runtime.redis, serializer=JSONSerializer)


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
