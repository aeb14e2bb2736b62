"""Content-free email notices to staff: "a new high-priority tip in North District".

Never a word the tipster wrote, never a reference or a time: a notice tells someone to
sign in, nothing more (mail systems are outside what we protect). Without SMTP
configured (the demo), the notice is written to the log with its recipients counted,
not named. Sending is best effort: the tip is safe in its queue whatever happens here.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline.models import Membership, Staff, Unit
from tipline.settings import Settings

log = logging.getLogger("tipline.notify")

SMTP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Notice:
    subject: str
    body: str


def recipients(session: Session, unit_slugs: tuple[str, ...], roles: tuple[str, ...]) -> list[str]:
    """Emails of the active members of these units who have one of ``roles``."""
    return list(
        session.scalars(
            select(Staff.email)
            .join(Membership, Membership.staff_id == Staff.id)
            .join(Unit, Unit.id == Membership.unit_id)
            .where(Unit.slug.in_(unit_slugs), Staff.active.is_(True), Staff.role.in_(roles))
            .distinct()
            .order_by(Staff.email)
        )
    )


def send(settings: Settings, to: list[str], notice: Notice) -> bool:
    """Send ``notice`` to each address (one message each: nobody sees the others).
    True when sent (or logged, without SMTP); False when the mail server failed."""
    if not to:
        return True
    if not settings.smtp_url:
        log.info("notice (no SMTP configured) to %d staff: %s", len(to), notice.subject)
        return True
    url = urlsplit(settings.smtp_url)
    try:
        smtp: smtplib.SMTP
        if url.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(
                url.hostname or "localhost",
                url.port or 465,
                timeout=SMTP_TIMEOUT,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(url.hostname or "localhost", url.port or 25, timeout=SMTP_TIMEOUT)
        with smtp:
            if url.scheme == "smtp+starttls":
                smtp.starttls(context=ssl.create_default_context())
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
            for address in to:
                message = EmailMessage()
                message["From"] = settings.mail_from
                message["To"] = address
                message["Subject"] = notice.subject
                message.set_content(notice.body)
                smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("notice not sent: mail server error (%s)", type(exc).__name__)
        return False
    log.info("notice sent to %d staff", len(to))
    return True


def new_tip(priority: str, unit_name: str, category_name: str, staff_url: str) -> Notice:
    return Notice(
        subject=f"New {priority}-priority tip in {unit_name} / {category_name}",
        body=(
            f"A new {priority}-priority tip is in the queue of {unit_name}.\n\n"
            f"Sign in to read it: {staff_url}\n\n"
            "This message never contains what the tipster wrote."
        ),
    )


def overdue(count: int, priority: str, unit_name: str, staff_url: str) -> Notice:
    tips = "tip is" if count == 1 else f"{count} tips are"
    return Notice(
        subject=f"Overdue for triage: {count} {priority}-priority in {unit_name}",
        body=(
            f"{tips.capitalize()} past the first-triage deadline in {unit_name}.\n\n"
            f"They are marked in the queue: {staff_url}?breached=true\n\n"
            "This message never contains what the tipster wrote."
        ),
    )
