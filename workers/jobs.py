"""RQ job functions. Each takes ids only and calls one domain function."""

from __future__ import annotations

import logging

from tipline.db import transaction
from tipline.triage.placement import place_tip
from workers.runtime import get_runtime

log = logging.getLogger("tipline.jobs")


def route_tip(tip_id: int) -> bool:
    """Place a tip in its unit queues; True if this delivery did it, False if done before."""
    runtime = get_runtime()
    with transaction(runtime.sessions) as session:
        placement = place_tip(session, int(tip_id), runtime.settings.time_granularity_minutes)
    if placement is None:
        return False
    if placement.placed:
        # Content-free notice: which units and how urgent, nothing the tipster wrote.
        log.info("new %s-priority tip for %s", placement.priority, ", ".join(placement.units))
    return placement.placed


def sweep_outbox() -> int:
    """Enqueue outbox work that never reached Redis (or whose job was lost)."""
    from workers.sweeper import sweep

    return sweep(get_runtime())
