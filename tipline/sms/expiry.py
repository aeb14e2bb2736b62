"""Reply handles live until N days after the tipster's last text, then go.

The conversation state in Redis expires by itself (its TTL is renewed by each text);
the sealed number in the database needs this scheduled job.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from tipline import audit
from tipline.models import ReplyHandle


def expire_reply_handles(session: Session, days: int, now: datetime, granularity: int) -> int:
    """Delete handles whose last text is more than ``days`` before ``now``; the count.

    ``last_message_at`` is truncated down to the granularity, so the cutoff moves back by
    one step: a handle lives up to one step longer than ``days``, never shorter than the
    tipster was promised."""
    cutoff = now - timedelta(days=days, minutes=granularity)
    deleted = session.execute(
        delete(ReplyHandle).where(ReplyHandle.last_message_at < cutoff)
    ).rowcount
    if deleted:
        # Audited without naming tips: which conversations ended is nobody's business.
        audit.record(session, "system", "sms.handles_expired", str(deleted))
    return deleted
