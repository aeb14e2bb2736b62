"""RQ job functions. Each takes ids only and calls one domain function."""

from __future__ import annotations

import logging

from tipline.db import transaction
from tipline.models.base import utcnow
from tipline.triage.placement import place_tip
from workers.queues import PURGE_SENT_DELAY, enqueue_committed
from workers.runtime import get_runtime

log = logging.getLogger("tipline.jobs")


def route_tip(tip_id: int) -> bool:
    """Place a tip in its unit queues; True if this delivery did it, False if done before."""
    from tipline.triage.notices import promise_new_tip

    runtime = get_runtime()
    notice = None
    with transaction(runtime.sessions) as session:
        placement = place_tip(session, int(tip_id), runtime.settings.time_granularity_minutes)
        if placement is not None and placement.placed:
            # Content-free notice: which unit and how urgent, nothing the tipster wrote;
            # promised with the placement, so a mail server down delays it, never loses it.
            notice = promise_new_tip(session, runtime, placement)
    if placement is None:
        return False
    if placement.placed:
        log.info("new %s-priority tip for %s", placement.priority, ", ".join(placement.units))
        if notice is not None:
            enqueue_committed(runtime, (notice,))
    return placement.placed


def escalate_overdue() -> int:
    """Mark tips past their first-triage deadline and tell their units' supervisors."""
    from tipline.triage.notices import escalate_overdue as escalate

    runtime = get_runtime()
    count, notices = escalate(runtime, utcnow())
    enqueue_committed(runtime, notices)
    if count:
        log.info("%d tip(s) overdue for triage escalated", count)
    return count


def notify_staff(outbox_id: int) -> bool:
    """Email the content-free notice an outbox row promised (raises while mail fails)."""
    from tipline.triage.notices import deliver

    return deliver(get_runtime(), int(outbox_id))


def fetch_media(outbox_id: int) -> int:
    """MMS: download, scrub and seal a text's media, then delete it at Twilio."""
    from tipline.sms.media import attach_media

    runtime = get_runtime()
    result = attach_media(runtime, int(outbox_id))
    if result is None:
        return 0
    enqueue_committed(runtime, result.work)
    return result.kept


def send_sms(outbox_id: int) -> str:
    """Text an SMS tipster through the reply handle; what happened (outbound.SENT, …)."""
    from tipline.sms.outbound import send_text

    runtime = get_runtime()
    result = send_text(runtime, int(outbox_id))
    if result is None:
        return "done before"
    # Twilio refuses to delete a message before it is final: the status callback asks
    # as soon as it is; this is the fallback if the callback never comes.
    enqueue_committed(runtime, result.work, delay=PURGE_SENT_DELAY)
    return result.outcome


def purge_message(outbox_id: int) -> str:
    """Delete a message and its media at Twilio (retried while Twilio says "too soon")."""
    from tipline.sms.outbound import purge_message as purge

    result = purge(get_runtime(), int(outbox_id))
    return "done before" if result is None else result.value


def expire_reply_handles() -> int:
    """Delete the sealed numbers of conversations past TIPLINE_SMS_CONVERSATION_DAYS."""
    from tipline.sms.expiry import expire_reply_handles as expire

    runtime = get_runtime()
    with transaction(runtime.sessions) as session:
        count = expire(
            session,
            runtime.settings.sms_conversation_days,
            utcnow(),
            runtime.settings.time_granularity_minutes,
        )
    if count:
        log.info("expired %d SMS reply handle(s)", count)
    return count


def sweep_provider() -> int:
    """Delete the tip line's messages left at Twilio past the grace period."""
    from tipline.sms.outbound import sweep_provider as sweep

    return sweep(get_runtime(), utcnow())


def delete_expired_tips() -> int:
    """Delete closed tips past their disposition's retention period (config/policy.yaml)."""
    from tipline.triage.retention import delete_expired

    count = delete_expired(get_runtime(), utcnow())
    if count:
        log.info("deleted %d closed tip(s) past retention", count)
    return count


def delete_orphan_files() -> int:
    """Delete sealed files that no row names (left by a crash), a day after they were written."""
    import time

    from tipline.triage.retention import delete_orphan_files as delete_orphans

    count = delete_orphans(get_runtime(), time.time())
    if count:
        log.warning("deleted %d sealed file(s) that no tip refers to", count)
    return count


def release_statistics() -> int:
    """Make the statistics of the months that have ended and have none yet: the month
    just ended, and after an upgrade those of the two years before (once)."""
    from tipline.stats.scheduling import release_ended_months

    made = release_ended_months(get_runtime(), utcnow(), 24)
    if made:
        log.info("statistics released for %d month(s)", len(made))
    return len(made)


def sweep_outbox() -> int:
    """Enqueue outbox work that never reached Redis (or whose job was lost)."""
    from workers.sweeper import sweep

    return sweep(get_runtime())
