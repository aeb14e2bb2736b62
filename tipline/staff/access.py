"""Who is acting: the signed-in staff member as the workflow sees them.

Pages (cookie) and the API (bearer token) both end here; unit membership is enforced
by opening the tip (staff.reading.unlocked_tip), role by the workflow's own checks.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from tipline.errors import Unauthorized
from tipline.models import Staff
from tipline.staff.sessions import StaffSession
from tipline.triage.workflow import Actor


def actor_of(session: Session, staff_session: StaffSession) -> Actor:
    """The actor behind a live session; an account deactivated meanwhile is signed out."""
    staff = session.get(Staff, staff_session.staff_id)
    if staff is None or not staff.active:
        raise Unauthorized("Your session has ended. Please sign in again.")
    return Actor(staff.id, staff.role)
