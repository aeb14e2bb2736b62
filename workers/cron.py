"""The scheduler's cron table and its loop (``tipline scheduler``).

We run our own small loop instead of ``rq cron`` because rq's CronJob enqueues with the
default (pickle) serializer, while every tipline queue uses JSON.
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass, replace

import redis

from tipline.runtime import Runtime
from workers.queues import maintenance_queue

log = logging.getLogger("tipline.scheduler")


@dataclass(frozen=True)
class CronEntry:
    func: str
    every_seconds: int
    timeout_seconds: int = 180  # RQ's default job timeout


CRON_TABLE: tuple[CronEntry, ...] = (
    CronEntry("workers.jobs.sweep_outbox", 30),
    CronEntry("workers.jobs.escalate_overdue", 300),
    CronEntry("workers.jobs.expire_reply_handles", 3600),
    CronEntry("workers.jobs.delete_expired_tips", 3600),
    # Walks the whole store: a large one on slow disks takes longer than RQ's default.
    CronEntry("workers.jobs.delete_orphan_files", 24 * 3600, timeout_seconds=3600),
    CronEntry("workers.jobs.sweep_provider", 3600),
    # A month's statistics are made once, an hour after it ends; a large one takes a while.
    CronEntry("workers.jobs.release_statistics", 3600, timeout_seconds=3600),
)


def heartbeat_key(runtime: Runtime) -> str:
    return runtime.key("scheduler", "heartbeat")


def cron_table(runtime: Runtime) -> tuple[CronEntry, ...]:
    """CRON_TABLE with the operator's sweep interval (``TIPLINE_SWEEP_SECONDS``)."""
    sweep = runtime.settings.sweep_seconds
    return tuple(
        replace(e, every_seconds=sweep) if e.func == "workers.jobs.sweep_outbox" else e
        for e in CRON_TABLE
    )


def tick(runtime: Runtime, now: float, last_run: dict[str, float]) -> list[str]:
    """Enqueue every entry that is due; a Redis lock keeps replicas from doubling up."""
    enqueued = []
    for entry in cron_table(runtime):
        if now - last_run.get(entry.func, 0.0) < entry.every_seconds:
            continue
        last_run[entry.func] = now
        lock = runtime.key("cron", entry.func)
        if runtime.redis.set(lock, "1", nx=True, ex=max(1, entry.every_seconds - 1)):
            maintenance_queue(runtime).enqueue(
                entry.func,
                description=entry.func.rsplit(".", 1)[-1],
                job_timeout=entry.timeout_seconds,
                result_ttl=600,
                failure_ttl=24 * 3600,
            )
            enqueued.append(entry.func)
    runtime.redis.set(heartbeat_key(runtime), str(int(now)), ex=120)
    return enqueued


def run(runtime: Runtime, poll_seconds: float = 1.0) -> None:
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    last_run: dict[str, float] = {}
    log.info("scheduler started: %s", ", ".join(e.func for e in cron_table(runtime)))
    while not stopping:
        try:
            tick(runtime, time.time(), last_run)
        except redis.RedisError as exc:
            # Redis down: nothing can be enqueued anyway; the outbox keeps the work.
            log.warning("scheduler cannot reach Redis (%s); retrying", type(exc).__name__)
            last_run.clear()
        time.sleep(poll_seconds)
    log.info("scheduler stopped")
